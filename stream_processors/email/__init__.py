"""Email metrics in the stream: each message to each recipient, with machine opens told apart from people's."""
