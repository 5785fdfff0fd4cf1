#!/usr/bin/env bash
# start.sh DIR: starts a throwaway OpenSSH server for herd's tests and
# prints, as shell assignments, where it is (source the output, or read
# DIR/env). Stop it with stop.sh DIR.
#
# The server listens on 0.0.0.0:PORT but lets logins in from loopback only
# (AllowUsers USER@127.0.0.0/8), so every address 127.0.0.2, 127.0.1.7, ...
# reaches it and acts as a distinct host. DIR receives fresh host keys, a
# fresh client key (id_ed25519), authorized_keys, a known_hosts line
# covering [127.*]:PORT, the sshd config and its log.
#
# Run as root, commands run as the user herdlab (created if missing), so
# the tests do not run them as root; otherwise as the current user. Root
# may log in too (HERD_LAB_ROOT=yes) because OpenSSH treats root sessions
# differently: it ignores their "signal" requests, which the tests of
# herd's remote kill must face. One address, HERD_LAB_DENY_HOST, accepts no
# key: a host refusing auth.
#
# One address, HERD_LAB_ONE_SESSION_HOST, allows one session per
# connection (MaxSessions 1), as a host whose sessions something else
# used up: herd's kill through a second session is refused there.
#
# Every host serves SFTP (sshd's internal-sftp). The hosts 127.0.3.1 to
# 127.0.3.4 (HERD_LAB_SFTP_HOSTS) serve nothing else, each starting in
# its own directory DIR/sftp/ADDR (HERD_LAB_SFTP_DIR): a relative path
# names a different file on each, so tests of copies to several hosts can
# tell the hosts' files apart although they share one file system.
#
# HERD_LAB_REEXEC=no starts sshd with -r: each connection is served by a
# fork of the listener instead of a fresh sshd it executes. OpenSSH
# re-executes by default (so each connection gets fresh address-space
# randomisation); the lab's hosts all share one machine, and in a
# benchmark that exec and dynamic linking, paid once per connection on
# the lab's one core, is most of what a host costs. Versions that always
# re-execute ignore it (HERD_LAB_REEXEC in DIR/env says what the lab does).
#
# Needs /usr/sbin/sshd (Debian: openssh-server); as root it installs it with
# apt-get when missing. SSHD overrides the path.
set -euo pipefail

usage() { echo "usage: $0 DIR" >&2; exit 64; }
[ $# -eq 1 ] || usage
dir=$1
sshd=${SSHD:-/usr/sbin/sshd}

if [ ! -x "$sshd" ]; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "sshlab: installing openssh-server" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2 && apt-get install -y -qq openssh-server >/dev/null
	fi
	if [ ! -x "$sshd" ]; then
		echo "sshlab: no $sshd (Debian: apt-get install openssh-server)" >&2
		exit 69
	fi
fi
case $sshd in /*) ;; *) echo "sshlab: sshd must be an absolute path (sshd re-executes itself): $sshd" >&2; exit 64 ;; esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -e "$dir/sshd.pid" ] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; then
	echo "sshlab: a lab already runs in $dir (stop.sh $dir first)" >&2
	exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
	user=herdlab
	allow="herdlab@127.0.0.0/8 root@127.0.0.0/8"
	root=yes
	if ! getent passwd "$user" >/dev/null; then
		useradd --create-home --shell /bin/sh "$user"
	fi
	# A "!" password marks the account locked, and sshd refuses locked
	# accounts even for key logins; "*" only says "no password".
	usermod -p '*' "$user"
	home=$(getent passwd "$user" | cut -d: -f6)
	mkdir -p "$home" && chown "$user:" "$home"
	# The privilege separation directory sshd insists on when root.
	mkdir -p /run/sshd
	chmod 0755 /run/sshd
else
	user=$(id -un)
	allow="$user@127.0.0.0/8"
	root=no
fi

umask 022
rm -f "$dir"/ssh_host_ed25519_key* "$dir"/id_ed25519* "$dir"/sshd.log
ssh-keygen -q -t ed25519 -N '' -C herdlab-host -f "$dir/ssh_host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -C herdlab-client -f "$dir/id_ed25519"
cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
: >"$dir/authorized_keys.none"
chmod 0644 "$dir/authorized_keys" "$dir/authorized_keys.none"
# sshd reads authorized_keys as the user: DIR must be reachable for it.
chmod 0755 "$dir"
if [ "$user" != "$(id -un)" ] && ! su -s /bin/sh "$user" -c "test -r '$dir/authorized_keys'"; then
	echo "sshlab: $user cannot read $dir/authorized_keys; put DIR under a directory all may search (e.g. /tmp)" >&2
	exit 1
fi

deny=127.0.0.254
one_session=127.0.0.253
sftp_hosts=4
sftp_root=$dir/sftp
rm -rf "$sftp_root"
for i in $(seq 1 $sftp_hosts); do
	mkdir -p "$sftp_root/127.0.3.$i"
done
if [ "$user" != "$(id -un)" ]; then
	chown -R "$user:" "$sftp_root"
fi
# Options newer sshd versions have: PerSourcePenalties (9.8) would shut
# 127.0.0.1 out after the auth failures the tests provoke on purpose.
extra=""
probe="$dir/probe_config"
printf 'HostKey %s\nPerSourcePenalties no\n' "$dir/ssh_host_ed25519_key" >"$probe"
if "$sshd" -t -f "$probe" 2>/dev/null; then
	extra="PerSourcePenalties no"
fi
reexec=yes sshd_flags=()
printf 'HostKey %s\n' "$dir/ssh_host_ed25519_key" >"$probe"
if [ "${HERD_LAB_REEXEC:-yes}" = no ] && "$sshd" -t -r -f "$probe" 2>/dev/null; then
	reexec=no sshd_flags=(-r)
fi
rm -f "$probe"

write_config() {
	cat >"$dir/sshd_config" <<EOF
Port $1
ListenAddress 0.0.0.0
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
AllowUsers $allow
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
LogLevel INFO
MaxStartups 1000
MaxSessions 100
LoginGraceTime 60
Subsystem sftp internal-sftp
$extra
$(for i in $(seq 1 $sftp_hosts); do
	printf 'Match LocalAddress 127.0.3.%s\n\tForceCommand internal-sftp -d %s\n' "$i" "$sftp_root/127.0.3.$i"
done)
# The host with room for one session per connection.
Match LocalAddress $one_session
	MaxSessions 1
# The host that refuses every key.
Match LocalAddress $deny
	AuthorizedKeysFile $dir/authorized_keys.none
# bash sources ~/.bashrc when sshd starts it (SSH_CLIENT set, SHLVL below
# 2): root's on a build machine may take seconds. A lab's root sessions
# need none of it.
Match User root
	SetEnv SHLVL=1
EOF
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A free port: try random ones until sshd binds one and answers.
port=""
for attempt in $(seq 1 20); do
	p=$((20000 + RANDOM % 30000))
	listening "$p" && continue
	write_config "$p"
	setsid "$sshd" -D -e ${sshd_flags[@]+"${sshd_flags[@]}"} -f "$dir/sshd_config" </dev/null >>"$dir/sshd.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do # up to 10 s
		if ! kill -0 "$pid" 2>/dev/null; then
			break # it died: most likely the port was taken
		fi
		if listening "$p"; then
			port=$p
			break
		fi
		sleep 0.1
	done
	[ -n "$port" ] && break
	kill "$pid" 2>/dev/null || true
done
if [ -z "$port" ]; then
	echo "sshlab: sshd did not start; its log:" >&2
	cat "$dir/sshd.log" >&2
	exit 1
fi
echo "$pid" >"$dir/sshd.pid"

{
	printf '[127.*]:%s ' "$port"
	cut -d' ' -f1-2 "$dir/ssh_host_ed25519_key.pub"
} >"$dir/known_hosts"

cat >"$dir/env" <<EOF
HERD_LAB_DIR=$dir
HERD_LAB_PORT=$port
HERD_LAB_USER=$user
HERD_LAB_ROOT=$root
HERD_LAB_KEY=$dir/id_ed25519
HERD_LAB_KNOWN_HOSTS=$dir/known_hosts
HERD_LAB_HOST_KEY=$dir/ssh_host_ed25519_key.pub
HERD_LAB_DENY_HOST=$deny
HERD_LAB_ONE_SESSION_HOST=$one_session
HERD_LAB_SSHD_PID=$pid
HERD_LAB_REEXEC=$reexec
HERD_LAB_SFTP_HOSTS=127.0.3.[1-$sftp_hosts]
HERD_LAB_SFTP_DIR=$sftp_root
EOF
sed 's/^/export /' "$dir/env"
