"""opsconsole: the control plane and operations console for AI-powered apps."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opsconsole")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
