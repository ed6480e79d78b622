"""Operate Beacon: the CLI, the local stack supervisor, topic provisioning and migrations."""
