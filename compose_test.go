package workshop

import (
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ot2otel/workshop/shared/app"
)

// No Docker engine runs where the workshop is tested, so the compose file is checked by
// reading it: the ports it publishes and the variables it sets must agree with the
// services' defaults, or attendees get a system that starts but cannot talk to itself.

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		Command     []string          `yaml:"command"`
		Profiles    []string          `yaml:"profiles"`
	} `yaml:"services"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

func port(t *testing.T, hostport string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	return p
}

func TestComposeInfrastructure(t *testing.T) {
	c := readCompose(t)
	rabbit, jaeger := c.Services["rabbitmq"], c.Services["jaeger"]
	if rabbit.Image != "rabbitmq:4-management" {
		t.Errorf("rabbitmq image = %q, want rabbitmq:4-management", rabbit.Image)
	}
	u, err := url.Parse(app.DefaultAMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{u.Port() + ":5672", "15672:15672"} {
		if !slices.Contains(rabbit.Ports, want) {
			t.Errorf("rabbitmq ports %v lack %s", rabbit.Ports, want)
		}
	}
	if !strings.HasPrefix(jaeger.Image, "jaegertracing/jaeger:2.") {
		t.Errorf("jaeger image = %q, want Jaeger v2 (jaegertracing/jaeger:2.x)", jaeger.Image)
	}
	for _, want := range []string{"16686:16686", "4317:4317", "4318:4318", "14268:14268", "6831:6831/udp"} {
		if !slices.Contains(jaeger.Ports, want) {
			t.Errorf("jaeger ports %v lack %s", jaeger.Ports, want)
		}
	}
}

func TestComposeShopMatchesDefaults(t *testing.T) {
	c := readCompose(t)
	defaults := map[string]struct{ addrVar, addr string }{
		"gateway":  {"GATEWAY_ADDR", app.DefaultGatewayAddr},
		"checkout": {"CHECKOUT_ADDR", app.DefaultCheckoutAddr},
		"stock":    {"STOCK_ADDR", app.DefaultStockAddr},
	}
	for name, d := range defaults {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("no %s service", name)
			continue
		}
		if !slices.Contains(s.Profiles, "shop") {
			t.Errorf("%s: not in the shop profile, so `docker compose up` would start it without a step", name)
		}
		if len(s.Command) == 0 || s.Command[len(s.Command)-1] != name {
			t.Errorf("%s: command %v does not run the %s subcommand", name, s.Command, name)
		}
		addr := s.Environment[d.addrVar]
		if port(t, addr) != port(t, d.addr) {
			t.Errorf("%s: %s=%s listens on another port than the default %s", name, d.addrVar, addr, d.addr)
		}
		if want := port(t, d.addr) + ":" + port(t, d.addr); !slices.Contains(s.Ports, want) {
			t.Errorf("%s: ports %v do not publish %s", name, s.Ports, want)
		}
		env := s.Environment
		checkout, _ := url.Parse(env["CHECKOUT_URL"])
		if checkout == nil || checkout.Hostname() != "checkout" || checkout.Port() != port(t, app.DefaultCheckoutAddr) {
			t.Errorf("%s: CHECKOUT_URL=%s does not reach the checkout service on its default port", name, env["CHECKOUT_URL"])
		}
		amqpURL, _ := url.Parse(env["AMQP_URL"])
		def, _ := url.Parse(app.DefaultAMQPURL)
		if amqpURL == nil || amqpURL.Hostname() != "rabbitmq" || amqpURL.Port() != def.Port() || amqpURL.User.String() != def.User.String() {
			t.Errorf("%s: AMQP_URL=%s does not reach the rabbitmq service with the default credentials", name, env["AMQP_URL"])
		}
		for k, v := range map[string]string{"AMQP_EXCHANGE": app.DefaultExchange, "AMQP_QUEUE": app.DefaultQueue} {
			if got, ok := env[k]; ok && got != v {
				t.Errorf("%s: %s=%s, but the other services use the default %s", name, k, got, v)
			}
		}
		if env["JAEGER_ENDPOINT"] != "http://jaeger:14268/api/traces" {
			t.Errorf("%s: JAEGER_ENDPOINT=%q, want jaeger's thrift HTTP endpoint http://jaeger:14268/api/traces", name, env["JAEGER_ENDPOINT"])
		}
		if env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://jaeger:4318" {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT=%q, want jaeger's OTLP/HTTP endpoint http://jaeger:4318", name, env["OTEL_EXPORTER_OTLP_ENDPOINT"])
		}
	}
}

func TestComposeStepsExist(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"gateway", "checkout", "stock"} {
		cmd := strings.Join(c.Services[name].Command, " ")
		// The default step in ${STEP:-solutions/NN-name} must be a directory that exists.
		_, rest, ok := strings.Cut(cmd, "${STEP:-")
		def, _, ok2 := strings.Cut(rest, "}")
		if !ok || !ok2 {
			t.Errorf("%s: command %q does not take the step from ${STEP:-...}", name, cmd)
			continue
		}
		if fi, err := os.Stat(def); err != nil || !fi.IsDir() {
			t.Errorf("%s: the default step %s does not exist", name, def)
		}
	}
}
