"""Label Studio access for every Winnow component, through label-studio-sdk 2.x."""

from winnow.labelstudio.client import connect

__all__ = ["connect"]
