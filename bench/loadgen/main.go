// Command loadgen is the SMTP load generator of mxdesk's bench/. It speaks to the server
// the way Postfix's smtp-source does (a new connection, EHLO, MAIL, RCPT, DATA, QUIT for
// every message) but every message is distinct (its own Message-ID, one of many senders,
// optionally DKIM-signed ahead of time), and it records for every message the time from
// the end of DATA (the final ".") to the server's reply: the latency a sending MTA sees.
//
//	loadgen gen   -size N -senders K -kind plain|attach -out DIR   write message templates
//	loadgen run   -addr HOST:PORT -c C -n N -templates DIR ...     drive load, print JSON
//	loadgen sink  -listen HOST:PORT -log FILE                      record mail (acks) by Message-ID
//	loadgen soak  -addr ... -duration D -sink-log FILE ...         mixed traffic (see soak.go)
//
// Only loopback addresses are ever targets; the bench scripts pass 127.0.0.1.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen gen|run|sink|soak [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = cmdGen(os.Args[2:])
	case "run":
		err = cmdRun(os.Args[2:])
	case "sink":
		err = cmdSink(os.Args[2:])
	case "soak":
		err = cmdSoak(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want gen, run, sink or soak", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
