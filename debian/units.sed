# dist/'s systemd units as the package installs them: the package's paths, and its own note in place of dist/'s install steps.
s|/usr/local/bin/|/usr/sbin/|g
/^# Install/d
/^#          /d
/^# To pass a config file/d
1i\
# Installed by the jitgate package: see "Installing the package" in /usr/share/doc/jitgate/operator.md.gz.
