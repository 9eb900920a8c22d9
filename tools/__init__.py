"""Tools the agents call. Nothing here imports the Django app: a tool gets a ToolContext."""
