"""The agents' and supervisors' console: the websocket gateway, screen pop, live wall."""
