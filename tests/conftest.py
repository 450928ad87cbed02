pytest_plugins = ["fakegithub.plugin"]
