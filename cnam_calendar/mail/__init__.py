"""E-mail: composing reminders, the SMTP lanes, and the daemon that drives them."""
