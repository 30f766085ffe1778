"""The SIP channel: a pyVoIP endpoint registered to the PBX, with pyVoIP's gaps covered."""
