package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/certstream-arrow/certstream-arrow/seal"
)

// VerifyCmd checks sealed hours against their manifests (package seal).
type VerifyCmd struct {
	Dir  string   `arg:"" name:"DIR" help:"Dataset root directory."`
	Hour []string `name:"hour" sep:"," placeholder:"YYYY-MM-DDTHH" help:"Verify these hours only (repeatable or comma-separated). Default: every hour."`
	JSON bool     `name:"json" help:"Print JSON."`

	out io.Writer `kong:"-"` // tests; default stdout
}

// errVerify makes the exit status non-zero after the report is printed.
var errVerify = errors.New("some sealed hours are not as their manifests say (listed above)")

// Validate checks flag values before anything starts.
func (c *VerifyCmd) Validate() error {
	if err := checkDatasetRoot("DIR", c.Dir); err != nil {
		return err
	}
	_, err := parseHourFlag(c.Hour)
	return err
}

type verifyLine struct {
	Hour     string   `json:"hour"`
	Status   string   `json:"status"` // ok, problem, not sealed
	Rows     int64    `json:"rows"`
	Files    int      `json:"sealed_files"`
	Unsealed []string `json:"unsealed_files"`
	Problems []string `json:"problems"`
}

// Run verifies and prints one line per hour, then the problems; the exit
// status is non-zero if any sealed hour has one.
func (c *VerifyCmd) Run() error {
	hours, _ := parseHourFlag(c.Hour)
	var pick func(time.Time) bool
	if len(hours) > 0 {
		pick = func(h time.Time) bool { return slices.ContainsFunc(hours, h.Equal) }
	}
	reps, err := seal.Verify(c.Dir, pick)
	if err != nil {
		return err
	}
	lines := make([]verifyLine, 0, len(reps))
	bad := false
	for _, r := range reps {
		l := verifyLine{Hour: seal.HourName(r.Hour), Status: "ok", Unsealed: r.Unsealed, Problems: r.Problems}
		switch {
		case !r.OK():
			l.Status, bad = "PROBLEM", true
		case r.Manifest == nil:
			l.Status = "not sealed"
		}
		if r.Manifest != nil {
			l.Rows, l.Files = r.Manifest.Rows, len(r.Manifest.Files)
		}
		lines = append(lines, l)
	}
	if err := c.print(lines); err != nil {
		return err
	}
	if bad {
		return errVerify
	}
	return nil
}

func (c *VerifyCmd) print(lines []verifyLine) error {
	out := stdout(c.out)
	if c.JSON {
		return writeJSON(out, struct {
			Hours []verifyLine `json:"hours"`
		}{lines})
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "hour\tstatus\trows\tsealed files\tunsealed files")
	for _, l := range lines {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\n", l.Hour, l.Status, l.Rows, l.Files, len(l.Unsealed))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, l := range lines {
		for _, p := range l.Problems {
			fmt.Fprintf(out, "problem: %s: %s\n", l.Hour, p)
		}
	}
	return nil
}
