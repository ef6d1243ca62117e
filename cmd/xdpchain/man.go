package main

import (
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCmd is the hidden `man` verb that packaging uses to write the man
// pages of every command, generated from the commands themselves.
func newManCmd(env *cliEnv) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "man --dir DIR",
		Short:  "Write the man pages (section 1) of every command into DIR",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			// Reproducible: the date is SOURCE_DATE_EPOCH when set.
			date := time.Now()
			if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
				if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
					date = time.Unix(sec, 0).UTC()
				}
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			return doc.GenManTree(root, &doc.GenManHeader{
				Title:   "XDPCHAIN",
				Section: "1",
				Date:    &date,
				Source:  "xdpchain " + versionString(),
				Manual:  "xdpchain manual",
			}, dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "output directory")
	cmd.MarkFlagRequired("dir")
	return cmd
}
