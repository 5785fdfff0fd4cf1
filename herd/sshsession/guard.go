package sshsession

// guardScript is the watchdog Guard wraps a command in. It runs as
// /bin/sh -c SCRIPT herd CMD [SHELL], with the session's stdin (which
// herd holds open, sending nothing) as its stdin:
//
//   - fd 3 keeps the session's stdin; the command gets /dev/null, as it
//     would from an SSH client sending no input. fd 4 keeps stderr for
//     the command: the script's own stderr is /dev/null, so that sh's
//     notes ("Terminated" after a command killed by a signal) do not add
//     to the command's.
//   - A watcher, a read loop on fd 3 in a subshell, sees that stdin end
//     when the session ends for any reason (herd closes the channel or
//     the connection, herd dies, sshd's session process dies) and then
//     SIGKILLs the command's process group: the command and the children
//     it did not detach. OpenSSH ignores "signal" requests for root
//     logins, and a signal it does deliver reaches the login shell only,
//     not its children.
//   - sshd makes each session's login shell a process group leader, and
//     the login shell execs this script, so the command normally runs in
//     the foreground in the script's own group (kill -0 -$$ succeeds only
//     for a group leader). Elsewhere (under sudo without a pty, say) it
//     runs in the background under setsid, where a non-interactive sh
//     starts it with SIGINT and SIGQUIT ignored; without setsid, only the
//     command's own process can be killed.
//   - When the command ends by itself, the watcher is killed before it
//     could act: children the command left running (nohup, say) stay, as
//     without the guard.
//   - The command runs in SHELL (the optional $2, else the login shell
//     $SHELL) with $0 its base name, as sshd would run it, and its exit
//     status is the script's; one killed by signal N exits 128+N, as herd
//     reports such a command unguarded too (but without its "killed by
//     signal" line).
//
// It is one line so that csh-family login shells accept it quoted.
const guardScript = `exec 3<&0 </dev/null 4>&2 2>/dev/null; ` +
	`if [ -n "$2" ]; then h=$2; else h=${SHELL:-/bin/sh}; fi; ` +
	`if kill -0 -$$; then ` +
	`{ while read -r _; do :; done; kill -9 -$$; } <&3 >/dev/null 4>&- & w=$!; exec 3<&-; ` +
	`("$h" -c "$1" "${h##*/}") 2>&4 4>&-; s=$?; ` +
	`else ` +
	`if command -v setsid >/dev/null; then setsid "$h" -c "$1" "${h##*/}" 2>&4 3<&- 4>&- & else "$h" -c "$1" "${h##*/}" 2>&4 3<&- 4>&- & fi; c=$!; ` +
	`{ while read -r _; do :; done; kill -9 -$c || kill -9 $c; } <&3 >/dev/null 4>&- & w=$!; exec 3<&-; ` +
	`wait $c; s=$?; ` +
	`fi; ` +
	`kill $w; exit $s`

// Guard wraps cmd so that it dies with its SSH session, even where sshd
// ignores signal requests; the session's stdin must stay open (and
// silent) while the command runs. The remote login shell runs the result,
// which execs /bin/sh; the command itself runs in the login shell, so its
// syntax, output and exit status are what they would be unwrapped.
func Guard(cmd string) string { return "exec " + guardInvocation(cmd, "") }

// remoteCommand is the command line sent for cmd, through sudo and
// ready for kill's way of killing it, and how many pid lines it prints
// before the command's output.
func remoteCommand(cmd string, sudo bool, kill KillMode) (string, int) {
	switch {
	case kill == KillGroup:
		return groupCommand(cmd, sudo)
	case sudo && kill == KillGuard:
		// The watchdog runs as root too, or it could not kill the
		// command; the command runs in sh, as it does unguarded.
		return "sudo -n -- " + guardInvocation(cmd, "/bin/sh"), 0
	case sudo:
		return "sudo -n -- sh -c " + shellQuote(cmd), 0
	case kill == KillGuard:
		return Guard(cmd), 0
	}
	return cmd, 0
}

// guardInvocation runs cmd under the watchdog, in shell if not empty.
func guardInvocation(cmd, shell string) string {
	s := "/bin/sh -c " + shellQuote(guardScript) + " herd " + shellQuote(cmd)
	if shell != "" {
		s += " " + shellQuote(shell)
	}
	return s
}
