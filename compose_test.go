package workshop

import (
	"context"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ot2otel/workshop/shared/app"
)

// No Docker engine runs where the workshop is tested, so the compose file is checked by
// loading it with the loader Compose v2 itself uses (which validates it against the
// Compose schema): the ports it publishes and the variables it sets must agree with the
// services' defaults, or attendees get a system that starts but cannot talk to itself.

// loadCompose loads docker-compose.yml as `docker compose` would with the given profiles
// and environment (and none of the test's own).
func loadCompose(t *testing.T, env []string, profiles ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"docker-compose.yml"},
		cli.WithWorkingDirectory("."),
		cli.WithEnv(env),
		cli.WithProfiles(profiles),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("docker-compose.yml (profiles %v): %v", profiles, err)
	}
	return p
}

var shopServices = []string{"checkout", "gateway", "stock"}

func TestComposeProfiles(t *testing.T) {
	infra := loadCompose(t, nil)
	if got := sortedKeys(infra.Services); !slices.Equal(got, []string{"jaeger", "prometheus", "rabbitmq", "redis"}) {
		t.Errorf("without a profile, docker compose up starts %v, want only jaeger, prometheus (step 07), rabbitmq and redis", got)
	}
	// Grafana (step 07, optional) starts only when named: docker compose up -d grafana.
	if got, want := sortedKeys(infra.DisabledServices), []string{"checkout", "gateway", "grafana", "stock"}; !slices.Equal(got, want) {
		t.Errorf("without a profile, the disabled services are %v, want %v", got, want)
	}
	shop := loadCompose(t, nil, "shop")
	if got := sortedKeys(shop.Services); !slices.Equal(got, []string{"checkout", "gateway", "jaeger", "prometheus", "rabbitmq", "redis", "stock"}) {
		t.Errorf("with the shop profile, docker compose up starts %v, want the infrastructure and the three services", got)
	}
}

// published returns the service's published ports as "hostip:published:target/protocol".
func published(s types.ServiceConfig) []string {
	var out []string
	for _, p := range s.Ports {
		out = append(out, p.HostIP+":"+p.Published+":"+strconv.Itoa(int(p.Target))+"/"+p.Protocol)
	}
	return out
}

func TestComposeInfrastructure(t *testing.T) {
	p := loadCompose(t, nil)
	rabbit, jaeger := p.Services["rabbitmq"], p.Services["jaeger"]
	if rabbit.Image != "rabbitmq:4-management" {
		t.Errorf("rabbitmq image = %q, want rabbitmq:4-management", rabbit.Image)
	}
	u, err := url.Parse(app.DefaultAMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"127.0.0.1:" + u.Port() + ":5672/tcp", "127.0.0.1:15672:15672/tcp"} {
		if !slices.Contains(published(rabbit), want) {
			t.Errorf("rabbitmq ports %v lack %s (guest/guest must face loopback only)", published(rabbit), want)
		}
	}
	if rabbit.HealthCheck == nil || len(rabbit.HealthCheck.Test) == 0 {
		t.Error("rabbitmq has no health check, so the services cannot wait for it")
	}
	redis := p.Services["redis"]
	ru, err := url.Parse(app.DefaultRedisURL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(redis.Image, "redis:") {
		t.Errorf("redis image = %q, want the official redis image", redis.Image)
	}
	if want := "127.0.0.1:" + ru.Port() + ":6379/tcp"; !slices.Contains(published(redis), want) {
		t.Errorf("redis ports %v lack %s (a Redis without a password must face loopback only)", published(redis), want)
	}
	if redis.HealthCheck == nil || len(redis.HealthCheck.Test) == 0 {
		t.Error("redis has no health check, so stock cannot wait for it")
	}
	if !strings.HasPrefix(jaeger.Image, "jaegertracing/jaeger:2.") {
		t.Errorf("jaeger image = %q, want Jaeger v2 (jaegertracing/jaeger:2.x)", jaeger.Image)
	}
	for _, want := range []string{"127.0.0.1:16686:16686/tcp", "127.0.0.1:4317:4317/tcp", "127.0.0.1:4318:4318/tcp",
		"127.0.0.1:14268:14268/tcp", "127.0.0.1:6831:6831/udp"} {
		if !slices.Contains(published(jaeger), want) {
			t.Errorf("jaeger ports %v lack %s", published(jaeger), want)
		}
	}
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q: publish on 127.0.0.1 only", name, port.Published, port.HostIP)
			}
		}
	}
}

func TestComposeShopMatchesDefaults(t *testing.T) {
	p := loadCompose(t, nil, "shop")
	defaults := map[string]struct{ addrVar, addr string }{
		"gateway":  {"GATEWAY_ADDR", app.DefaultGatewayAddr},
		"checkout": {"CHECKOUT_ADDR", app.DefaultCheckoutAddr},
		"stock":    {"STOCK_ADDR", app.DefaultStockAddr},
	}
	_, checkoutPort, _ := net.SplitHostPort(app.DefaultCheckoutAddr)
	for name, d := range defaults {
		s, ok := p.Services[name]
		if !ok {
			t.Errorf("no %s service", name)
			continue
		}
		if !slices.Contains(s.Profiles, "shop") {
			t.Errorf("%s: not in the shop profile, so `docker compose up` would start it without a step", name)
		}
		// The image's entrypoint is the step's binary: the command is the subcommand.
		if !slices.Equal([]string(s.Command), []string{name}) {
			t.Errorf("%s: command %v, want [%s], the subcommand the binary runs", name, s.Command, name)
		}
		env := func(k string) string {
			if v := s.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		addr := env(d.addrVar)
		host, port, err := net.SplitHostPort(addr)
		_, defPort, _ := net.SplitHostPort(d.addr)
		if err != nil || port != defPort || host != "0.0.0.0" {
			t.Errorf("%s: %s=%s, want 0.0.0.0 (reachable from the other containers) on the default port %s", name, d.addrVar, addr, defPort)
		}
		if want := "127.0.0.1:" + defPort + ":" + defPort + "/tcp"; !slices.Contains(published(s), want) {
			t.Errorf("%s: ports %v do not publish %s", name, published(s), want)
		}
		// The health check asks the service's own /healthz on its port.
		if s.HealthCheck == nil || !slices.Contains([]string(s.HealthCheck.Test), "http://127.0.0.1:"+defPort+"/healthz") {
			t.Errorf("%s: health check %v does not GET http://127.0.0.1:%s/healthz", name, s.HealthCheck, defPort)
		}
		if dep, ok := s.DependsOn["rabbitmq"]; !ok || dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s: depends_on rabbitmq = %+v, want condition service_healthy", name, dep)
		}
		// Shutting down takes up to app.ShutdownTimeout to drain and as long to flush.
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= 2*app.ShutdownTimeout {
			t.Errorf("%s: stop_grace_period %v, want more than 2 × app.ShutdownTimeout (%s) before SIGKILL", name, s.StopGracePeriod, 2*app.ShutdownTimeout)
		}
		checkout, _ := url.Parse(env("CHECKOUT_URL"))
		if checkout == nil || checkout.Hostname() != "checkout" || checkout.Port() != checkoutPort {
			t.Errorf("%s: CHECKOUT_URL=%s does not reach the checkout service on its default port", name, env("CHECKOUT_URL"))
		}
		amqpURL, _ := url.Parse(env("AMQP_URL"))
		def, _ := url.Parse(app.DefaultAMQPURL)
		if amqpURL == nil || amqpURL.Hostname() != "rabbitmq" || amqpURL.Port() != def.Port() || amqpURL.User.String() != def.User.String() {
			t.Errorf("%s: AMQP_URL=%s does not reach the rabbitmq service with the default credentials", name, env("AMQP_URL"))
		}
		for k, v := range map[string]string{"AMQP_EXCHANGE": app.DefaultExchange, "AMQP_QUEUE": app.DefaultQueue} {
			if got := env(k); got != "" && got != v {
				t.Errorf("%s: %s=%s, but the other services use the default %s", name, k, got, v)
			}
		}
		redisURL, _ := url.Parse(env("REDIS_URL"))
		defRedis, _ := url.Parse(app.DefaultRedisURL)
		if redisURL == nil || redisURL.Hostname() != "redis" || redisURL.Port() != defRedis.Port() || redisURL.Path != defRedis.Path {
			t.Errorf("%s: REDIS_URL=%s does not reach the redis service's database %s", name, env("REDIS_URL"), defRedis.Path)
		}
		if name == "stock" {
			if dep, ok := s.DependsOn["redis"]; !ok || dep.Condition != types.ServiceConditionHealthy {
				t.Errorf("stock: depends_on redis = %+v, want condition service_healthy", dep)
			}
		}
		if got := env("JAEGER_ENDPOINT"); got != "http://jaeger:14268/api/traces" {
			t.Errorf("%s: JAEGER_ENDPOINT=%q, want jaeger's thrift HTTP endpoint http://jaeger:14268/api/traces", name, got)
		}
		if got := env("OTEL_EXPORTER_OTLP_ENDPOINT"); got != "http://jaeger:4318" {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT=%q, want jaeger's OTLP/HTTP endpoint http://jaeger:4318", name, got)
		}
	}
	if dep, ok := p.Services["gateway"].DependsOn["checkout"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("gateway: depends_on checkout = %+v, want condition service_healthy", dep)
	}
}

// TestComposeBuildsTheStep checks that each service runs the binary of the step STEP
// names, built by the Dockerfile, as the container's PID 1 (exec-form ENTRYPOINT), so
// that a stop reaches it as SIGTERM and its last spans are flushed.
func TestComposeBuildsTheStep(t *testing.T) {
	dockerfile, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^ARG STEP=\S+$`),
		regexp.MustCompile(`(?m)go build .*-o /shop "\./\$\{STEP\}"$`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \["/shop"\]$`),
	} {
		if !want.Match(dockerfile) {
			t.Errorf("Dockerfile lacks a line like %s", want)
		}
	}
	for _, tc := range []struct {
		env  []string
		step string
	}{
		{nil, "solutions/06-native-otel"},
		{[]string{"STEP=steps/03-traced-rabbit-broker"}, "steps/03-traced-rabbit-broker"},
	} {
		p := loadCompose(t, tc.env, "shop")
		for _, name := range shopServices {
			b := p.Services[name].Build
			if b == nil || b.Context == "" || b.Args["STEP"] == nil || *b.Args["STEP"] != tc.step {
				t.Errorf("%s with %v: build %+v, want the Dockerfile with STEP=%s", name, tc.env, b, tc.step)
				continue
			}
			if fi, err := os.Stat(tc.step); err != nil || !fi.IsDir() {
				t.Errorf("%s: the step %s does not exist", name, tc.step)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// jaegerReleases pairs the Go module version tools/jaeger builds (make jaeger, make e2e)
// with the Jaeger release it is: one Jaeger everywhere, so that what the room sees in
// Compose's UI is what the tests ran against.
var jaegerReleases = map[string]string{"v1.76.0": "2.13.0"}

// TestComposeRunsTheJaegerMakeJaegerBuilds checks that Compose's Jaeger image is the
// release tools/jaeger pins.
func TestComposeRunsTheJaegerMakeJaegerBuilds(t *testing.T) {
	mod, err := os.ReadFile("tools/jaeger/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/jaegertracing/jaeger (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("tools/jaeger/go.mod does not require github.com/jaegertracing/jaeger")
	}
	release, ok := jaegerReleases[string(m[1])]
	if !ok {
		t.Fatalf("tools/jaeger builds github.com/jaegertracing/jaeger %s: add the Jaeger release it is to jaegerReleases", m[1])
	}
	p := loadCompose(t, nil)
	s, err := p.GetService("jaeger")
	if err != nil {
		t.Fatal(err)
	}
	if want := "jaegertracing/jaeger:" + release; s.Image != want {
		t.Errorf("docker-compose.yml runs %s; make jaeger builds %s (module %s): one Jaeger everywhere", s.Image, want, m[1])
	}
}
