"""The one exception tools raise for mistakes the model can fix."""


class ToolError(Exception):
    """The message goes back to the model as the observation, with a concrete hint."""
