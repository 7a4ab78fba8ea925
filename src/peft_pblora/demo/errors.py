"""The errors the demo shows a person: bad input in the page, or a folder it cannot serve."""


class DemoInputError(ValueError):
    """Input the page refuses (an empty prompt, weights off the simplex), with a message for the person typing it."""


class RunFolderError(ValueError):
    """A folder the demo cannot serve (no settings, no trained PARM adapter), with what to do about it."""
