package app

import (
	"fmt"
	"path/filepath"
)

// Service names, as they appear in traces and logs.
const (
	Gateway  = "gateway"
	Checkout = "checkout"
	Stock    = "stock"
)

// Command is a parsed command line.
type Command struct {
	Name     string   // gateway, checkout, stock, all or demo
	Services []string // the services to run, in start order
}

// Demo reports whether the command is demo.
func (c Command) Demo() bool { return c.Name == "demo" }

// NeedsBroker reports whether any of the services talks to the broker.
func (c Command) NeedsBroker() bool {
	for _, s := range c.Services {
		if s == Checkout || s == Stock {
			return true
		}
	}
	return false
}

// Runs reports whether the command runs the named service.
func (c Command) Runs(service string) bool {
	for _, s := range c.Services {
		if s == service {
			return true
		}
	}
	return false
}

// ParseArgs reads the subcommand from args (args[0] is the program).
func ParseArgs(args []string) (Command, error) {
	prog := "shop"
	if len(args) > 0 {
		prog = filepath.Base(args[0])
	}
	usage := fmt.Errorf(`usage: %s COMMAND

commands:
  gateway   run the gateway (POST /checkout) on GATEWAY_ADDR
  checkout  run checkout (POST /orders) on CHECKOUT_ADDR, publishing to RabbitMQ
  stock     run stock (GET /stock) on STOCK_ADDR, consuming from RabbitMQ
  all       run all three in this process, each with its own tracer
  demo      run all three, place one order, print what happened, exit`, prog)
	if len(args) != 2 {
		return Command{}, usage
	}
	switch name := args[1]; name {
	case Gateway, Checkout, Stock:
		return Command{Name: name, Services: []string{name}}, nil
	case "all", "demo":
		// Stock first and gateway last, so each service's downstream is up before it is.
		return Command{Name: name, Services: []string{Stock, Checkout, Gateway}}, nil
	default:
		return Command{}, fmt.Errorf("unknown command %q\n%w", name, usage)
	}
}
