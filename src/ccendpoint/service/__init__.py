"""The proxy as a per-user login service: systemd user unit, launchd agent, Windows logon task.

- :mod:`.spec`: what the service runs (pure);
- :mod:`.render`: the service definitions for each system, and reading them back (pure);
- :mod:`.runner`: the one small runner every system command goes through (tests record it);
- :mod:`.systems`: each service manager's files and commands;
- :mod:`.manage`: install, uninstall and status, as the commands and ``doctor`` use them;
- :mod:`.launch`: runs the proxy with its output in the log where no manager captures it.
"""
