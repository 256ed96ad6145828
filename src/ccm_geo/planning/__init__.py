"""Planning: tasks from areas, optimal budgeted selection, team schedule, milestones."""
