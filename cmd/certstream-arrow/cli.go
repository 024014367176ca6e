package main

import (
	"encoding/json"
	"io"
	"os"
	"runtime/debug"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise it comes from the module's build information.
var version = ""

// CLI is the whole command line. Global flags live here; each subcommand is
// a struct with its own file.
type CLI struct {
	LogLevel  string           `short:"l" enum:"trace,debug,info,warn,error" default:"info" help:"Log level: trace, debug, info, warn or error."`
	LogFormat string           `enum:"auto,text,json" default:"auto" help:"Log format: auto (coloured text on a terminal, JSON otherwise), text or json."`
	Version   kong.VersionFlag `env:"-" help:"Print the version and exit."`

	Run      RunCmd      `cmd:"" default:"withargs" help:"Archive a CertStream server into hourly Feather files (the default command)."`
	Recover  RecoverCmd  `cmd:"" help:"Publish what crashed archivers left in temporary files under a dataset root, then exit."`
	Inspect  InspectCmd  `cmd:"" help:"Summarise a dataset: hours, files, rows, bytes, time ranges, and per CT log the cert_index range, holes and duplicates."`
	Backfill BackfillCmd `cmd:"" help:"Fetch from the CT logs the entries the dataset is missing, and publish them as rows with provenance backfill."`
	Seal     SealCmd     `cmd:"" help:"Compact finished hours into one sorted file each, every CT log entry once, with a manifest (_manifest.json)."`
	Verify   VerifyCmd   `cmd:"" help:"Check sealed hours against their manifests: sizes, SHA-256, rows and keys read back."`
	Export   ExportCmd   `cmd:"" help:"Write sealed hours as hive-partitioned Parquet for Spark, Trino, ClickHouse and object storage; reruns export only what changed."`
	Import   ImportCmd   `cmd:"" help:"Archive a recorded capture (JSON lines; .zst, .gz or - for stdin) into the dataset, partitioned by seen."`
	Serve    ServeCmd    `cmd:"" help:"Serve a capture, or generated messages, as a CertStream server on loopback: try the archiver offline."`
	Bench    BenchCmd    `cmd:"" help:"Measure the archiver end to end against a loopback flood, next to a read-and-discard client."`
}

func (c *CLI) options() []kong.Option {
	return []kong.Option{
		kong.Name("certstream-arrow"),
		kong.Description("Archive the Certificate Transparency firehose from a CertStream server into a dataset of " +
			"hourly, zstd-compressed Apache Arrow Feather files that DuckDB, pandas and polars read while it runs.\n\n" +
			"Every flag can also be set from the environment variable shown beside it."),
		kong.DefaultEnvars("CERTSTREAM_ARROW"),
		kong.Vars{"version": programVersion()},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, FlagsLast: true}),
	}
}

// helpArgs makes a bare --help show the default command's flags, which are
// the ones nearly every user is looking for.
func helpArgs(parser *kong.Kong, args []string) []string {
	help := false
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "--help" {
			help = true
		}
		for _, c := range parser.Model.Children {
			if a == c.Name {
				return args
			}
		}
	}
	if help {
		return append([]string{"run"}, args...)
	}
	return args
}

// programVersion returns the version recorded in files and logs.
func programVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// stdout returns w, or os.Stdout when w is nil (commands' tests set w).
func stdout(w io.Writer) io.Writer {
	if w == nil {
		return os.Stdout
	}
	return w
}

// writeJSON prints v as indented JSON: the --json output of every command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
