package agent

// The agent's protocol: JSON-RPC 2.0, one message a line, over mutual
// TLS. The controller calls MethodInfo and MethodRun; while a run goes
// on, the agent sends its output, then the run's reply with its exit
// status. MethodCancel stops a run.
//
// Two versions carry the output differently. Protocol 1 sends NotifyOutput
// notifications, their bytes in base64 inside JSON. Protocol 2 sends
// output frames (frame.go): a binary header and the bytes as they are,
// between the JSON lines; a frame's first byte, FrameOutput, never
// begins a JSON text. A controller asks for protocol 2 in MethodInfo's
// InfoParams; the agent answers with the version the connection then
// speaks, so controllers and agents of either version work together.

// Method and notification names.
const (
	MethodInfo   = "agent.info"
	MethodRun    = "agent.run"
	MethodCancel = "agent.cancel"
	NotifyOutput = "agent.output"
)

// ProtocolVersion is the newest version of the protocol: the one a
// controller asks for, and the most an agent grants.
const ProtocolVersion = 2

// Protocol versions.
const (
	ProtocolJSON   = 1 // output as NotifyOutput notifications, base64 in JSON
	ProtocolFrames = 2 // output as binary frames
)

// InfoParams are MethodInfo's parameters: the newest protocol the
// controller speaks. Without them (as from controllers before protocol
// 2) the agent speaks ProtocolJSON.
type InfoParams struct {
	Protocol int `json:"protocol,omitempty"`
}

// Version is the agent's software version.
const Version = "0.1.0"

// Info is MethodInfo's result: the agent and its host.
type Info struct {
	Version  string `json:"version"`
	Protocol int    `json:"protocol"` // the version this connection speaks from now on
	Hostname string `json:"hostname"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	CPUs     int    `json:"cpus"`
	User     string `json:"user"` // whom commands run as
}

// RunParams are MethodRun's parameters. Exactly one of Argv and Shell is
// set: Argv is executed directly, Shell is a command line for /bin/sh -c.
type RunParams struct {
	Job   string   `json:"job"` // the controller's name for the run, unique on the connection
	Argv  []string `json:"argv,omitempty"`
	Shell string   `json:"shell,omitempty"`
	// TimeoutMS bounds the run; when it passes, the command's process
	// group is killed. 0: no limit.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// RunResult is MethodRun's result.
type RunResult struct {
	Exit     int    `json:"exit"`             // exit status, 128+N for signal N
	Signal   string `json:"signal,omitempty"` // the signal that ended the command, if one did
	TimedOut bool   `json:"timed_out,omitempty"`
	Canceled bool   `json:"canceled,omitempty"`
}

// Streams of NotifyOutput.
const (
	Stdout = 1
	Stderr = 2
)

// OutputParams is a NotifyOutput notification (ProtocolJSON): a chunk of
// a run's output.
type OutputParams struct {
	Job    string `json:"job"`
	Stream int    `json:"stream"`
	Data   []byte `json:"data"`
}

// CancelParams are MethodCancel's parameters.
type CancelParams struct {
	Job string `json:"job"`
}

// Error codes of the agent's methods, in JSON-RPC's server range.
const (
	CodeBusy     = -32001 // too many commands on the connection
	CodeStart    = -32002 // the command could not start
	CodeDupJob   = -32003 // a run of that name is already going on
	CodeNoSuchJb = -32004 // MethodCancel: no such run
)
