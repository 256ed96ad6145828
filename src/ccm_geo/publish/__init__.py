"""Publishing: interactive and print maps, reports, donor request packages."""
