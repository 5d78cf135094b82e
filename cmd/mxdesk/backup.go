package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
)

// cmdBackup copies the SQLite database consistently beside a running serve.
func cmdBackup(ctx context.Context, cfgPath string, args []string, stdout io.Writer) error {
	fset := flag.NewFlagSet("backup", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	pos, err := parseInterspersed(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"want: backup FILE"}
	}
	_, st, err := openConfigured(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Backup(ctx, pos[0])
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(pos[0])
	fmt.Fprintf(stdout, "wrote %s (%d bytes): a consistent copy of the database; also keep data_dir/secret.key\n", abs, n)
	return nil
}
