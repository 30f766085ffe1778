"""The Twilio channel: signed webhooks, TwiML, status callbacks, Media Streams, REST."""
