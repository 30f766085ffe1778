"""The SIP channel: a pyVoIP endpoint registered to the PBX, with pyVoIP's gaps covered."""

# pyVoIP's modules import each other; importing pyVoIP.SIP first fails half-initialised.
import pyVoIP.VoIP  # noqa: F401
