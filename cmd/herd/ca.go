package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cport/cport/herd/ca"
	"github.com/cport/cport/herd/nodeset"
)

// newCACmd is herd ca: the private CA that signs agent and controller
// certificates.
func newCACmd(stdout io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "ca",
		Short: "Manage the private CA for herd agents (mutual TLS)",
	}
	var initDays int
	var initName string
	initCmd := &cobra.Command{
		Use:     "init DIR",
		Short:   "Create a CA (ECDSA P-256) in DIR: ca.crt and ca.key (0600)",
		Example: "  herd ca init ~/.config/herd/ca",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if initDays <= 0 {
				return errors.New("ca init: --days must be positive")
			}
			if err := ca.Init(args[0], initName, time.Duration(initDays)*24*time.Hour); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "CA created: %s, valid %d days\n", filepath.Join(args[0], ca.CACertFile), initDays)
			return nil
		},
	}
	initCmd.Flags().IntVar(&initDays, "days", int(ca.CALifetime/(24*time.Hour)), "the CA's lifetime in days")
	initCmd.Flags().StringVar(&initName, "name", "herd CA", "the CA's common name")

	var agent, controller string
	var sans []string
	var days int
	issue := &cobra.Command{
		Use:   "issue DIR (--agent NAME | --controller NAME)",
		Short: "Issue an agent or controller certificate: DIR/NAME.crt and DIR/NAME.key (0600)",
		Example: `  herd ca issue ~/.config/herd/ca --agent web01 --san 10.0.0.11
  herd ca issue ~/.config/herd/ca --controller ops`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := ca.Request{Lifetime: time.Duration(days) * 24 * time.Hour}
			switch {
			case agent != "" && controller != "", agent == "" && controller == "":
				return errors.New("ca issue: give one of --agent NAME or --controller NAME")
			case agent != "":
				req.Role, req.Name = ca.Agent, agent
				for _, expr := range sans {
					set, err := new(nodeset.Parser).Parse(expr)
					if err != nil {
						return fmt.Errorf("ca issue: --san: %w", err)
					}
					req.SANs = append(req.SANs, set.Names()...)
				}
			default:
				if len(sans) > 0 {
					return errors.New("ca issue: --san is for agent certificates")
				}
				req.Role, req.Name = ca.Controller, controller
			}
			if days <= 0 {
				return errors.New("ca issue: --days must be positive")
			}
			auth, err := ca.Load(args[0])
			if err != nil {
				return err
			}
			is, err := auth.Issue(req)
			if err != nil {
				return err
			}
			if err := is.Write(args[0], req.Name); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s certificate issued: %s, valid until %s\n", req.Role,
				filepath.Join(args[0], req.Name+".crt"), is.Cert.NotAfter.UTC().Format(time.DateOnly))
			return nil
		},
	}
	fl := issue.Flags()
	fl.StringVar(&agent, "agent", "", "issue an agent certificate for host `NAME` (the name or address controllers dial)")
	fl.StringVar(&controller, "controller", "", "issue a controller certificate for `NAME`, allowed to run commands on agents")
	fl.StringArrayVar(&sans, "san", nil, "further host names or IP addresses the agent answers for, as a node set such as 10.0.0.[1-50] (repeatable)")
	fl.IntVar(&days, "days", int(ca.LeafLifetime/(24*time.Hour)), "the certificate's lifetime in days (never beyond the CA's)")
	root.AddCommand(initCmd, issue)
	return root
}
