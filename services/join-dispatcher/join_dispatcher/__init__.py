"""The join-dispatcher: sends a device group the JOINs for a live session and tracks the answers."""
