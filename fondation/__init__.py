"""The ground floor: settings, errors, the clock, Redis keys, logs, the wake-up channel, the
cancel signal, the embedded Redis. It imports nothing else of this project."""
