#!/usr/bin/env bash
# make run: build, then start jitgated in the foreground with its embedded defaults:
# state (SQLite store, self-signed TLS) in ./var, listening on 127.0.0.1:8443, protecting this host.
# Nothing is locked until someone enables a policy. Ctrl-C stops it; the kernel keeps live grants.
set -eu
cd "$(dirname "$0")/.."
LISTEN=${LISTEN:-127.0.0.1:8443}
J=build/jitgated

if [[ $(id -u) != 0 ]]; then
	echo "make run: not root, so jitgated cannot program the kernel firewall; every VM will be Unsupported." >&2
	STATE=${STATE:-$PWD/var}
else
	# privilege separation is the default: the HTTP side runs as this system user, made here once
	if ! id -u jitgate >/dev/null 2>&1; then
		echo "make run: creating the system user 'jitgate' for privilege separation" >&2
		useradd --system --no-create-home --shell /usr/sbin/nologin jitgate
	fi
	# that user must reach the state directory: ./var when every directory above it lets it through
	if [[ -z ${STATE:-} ]]; then
		STATE=$PWD/var
		if ! setpriv --reuid=jitgate --regid=jitgate --clear-groups test -x "$PWD"; then
			STATE=/var/lib/jitgate-dev
			echo "make run: user jitgate cannot reach $PWD, so the state goes to $STATE" >&2
		fi
	fi
fi
mkdir -p "$STATE"
chmod 0700 "$STATE"
vm=$(hostname -s 2>/dev/null || echo localhost)
if ! "$J" token list --state-dir "$STATE" | tail -n +2 | grep -q .; then
	token=$("$J" token create --state-dir "$STATE" --name owner --role Owner)
	S=00000000-0000-0000-0000-000000000000
	cat <<MSG

  jitgate is starting for the first time. Your Owner token (shown once; keep it safe):

    $token

  Portal:  https://$LISTEN/   (sign in with the token; the TLS certificate is $STATE/tls/cert.pem,
           SHA-256 fingerprint in the line jitgated prints below)
  API:     https://$LISTEN/subscriptions/$S/...   (doc/api.md)

  Three things to try, in another terminal on this host (as root the CLI needs no token: it uses
  jitgated's local socket):

    build/jitgate vm list                      # this host is VM '$vm', not configured yet
    build/jitgate enable $vm                   # port 22 now refuses new connections (3 h max, any source)
    build/jitgate request $vm --for 1h         # opens 22 for your address (from SSH_CLIENT, or give --from ADDR)

  From elsewhere: jitgate login --server https://<this host>:8443 --token <token>

MSG
fi
sock=()
if [[ $(id -u) == 0 ]]; then
	# root on this host may use the CLI without a token, over this socket (peer credentials)
	mkdir -p /run/jitgate && chmod 0700 /run/jitgate
	sock=(--unix-socket /run/jitgate/jitgated.sock)
fi
exec "$J" --state-dir "$STATE" --listen "$LISTEN" --vm-name "$vm" "${sock[@]}"
