"""Criteria: raw indicator columns for every hazardous area (one module per criterion family)."""
