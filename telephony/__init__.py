"""Channel-neutral calls and their events; the SIP and Twilio channels live below."""
