"""Settings, client construction, the topic catalogue and the local stack launcher."""
