package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/certstream-arrow/certstream-arrow/archive"
)

// RecoverCmd salvages the temporary files of crashed archivers. The archiver
// does the same at every start; this command is for a root no archiver will
// restart on, or for checking one by hand. It leaves alone the files of
// archivers that are running.
type RecoverCmd struct {
	Dir string `arg:"" name:"DIR" help:"Dataset root directory."`
}

// Validate refuses a directory that does not exist.
func (r *RecoverCmd) Validate() error {
	fi, err := os.Stat(r.Dir)
	if err != nil {
		return fmt.Errorf("DIR: %w", err)
	}
	if !fi.IsDir() {
		return errors.New("DIR: " + r.Dir + " is not a directory")
	}
	return nil
}

// Run salvages and prints a summary.
func (r *RecoverCmd) Run(log *slog.Logger) error {
	rep, err := archive.Recover(r.Dir, log)
	fmt.Printf("salvaged %d files (%d rows, %d bytes discarded); removed %d empty or already published; set aside %d unreadable; left %d of running archivers\n",
		rep.Salvaged, rep.Rows, rep.BytesDiscarded, rep.Removed, rep.Quarantined, rep.Live)
	return err
}
