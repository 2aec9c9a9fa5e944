// Command cert-manager-controller is cert-manager's controller for the local control plane
// (tooling/local_cluster): the controller packages of github.com/cert-manager/cert-manager at the version
// toolchain/versions.env pins (LOCAL_CERT_MANAGER_VERSION), run on the host against the local API server.
//
// Upstream's own main (the module github.com/cert-manager/cert-manager/cmd/controller) is not served by the
// module proxy here, so this is the project's own: it builds the controller context with the main module's
// public pkg/controller API and runs the controllers that issue from SelfSigned and CA issuers (the
// certificates-* family, the CertificateRequest approver and signers, issuers, clusterissuers). ACME,
// Vault and Venafi are not compiled in: nothing on a loopback cluster could reach them.
// The flags keep upstream's names and defaults.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	logsapi "k8s.io/component-base/logs/api/v1"

	"github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/healthz"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"

	// The controllers register themselves with pkg/controller, the issuer kinds with pkg/issuer.
	crapprover "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	certmetrics "github.com/cert-manager/cert-manager/pkg/controller/certificates/metrics"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// builtIn is every controller this binary has, which is also the default set.
var builtIn = []string{
	issuers.ControllerName,
	clusterissuers.ControllerName,
	certmetrics.ControllerName,
	crapprover.ControllerName,
	crca.CRControllerName,
	crselfsigned.CRControllerName,
	trigger.ControllerName,
	issuing.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	readiness.ControllerName,
	revisionmanager.ControllerName,
}

type options struct {
	kubeconfig, apiServerHost, namespace, clusterResourceNamespace string
	kubeAPIQPS                                                     float32
	kubeAPIBurst, workers                                          int
	controllers                                                    []string
	leaderElect                                                    bool
	leaderElectionNamespace                                        string
	leaseDuration, renewDeadline, retryPeriod                      time.Duration
	metricsAddress, healthzAddress                                 string
	enableOwnerRef                                                 bool
	minBackoff, maxBackoff                                         time.Duration
	version                                                        bool
}

func parseFlags(args []string, logging *logsapi.LoggingConfiguration) (*options, error) {
	o := &options{}
	fs := pflag.NewFlagSet("cert-manager-controller", pflag.ContinueOnError)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to manage (empty: in-cluster)")
	fs.StringVar(&o.apiServerHost, "master", "", "API server address, overriding the kubeconfig's")
	fs.StringVar(&o.namespace, "namespace", "", "watch only this namespace (empty: all)")
	fs.StringVar(&o.clusterResourceNamespace, "cluster-resource-namespace", "kube-system",
		"namespace of the Secrets that ClusterIssuers refer to (a CA ClusterIssuer's key pair)")
	fs.Float32Var(&o.kubeAPIQPS, "kube-api-qps", 20, "client-side rate limit (when the server has no API priority and fairness)")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", 50, "client-side burst")
	fs.IntVar(&o.workers, "concurrent-workers", 5, "workers per controller")
	fs.StringSliceVar(&o.controllers, "controllers", []string{"*"},
		"controllers to run: '*' for all built in ("+strings.Join(builtIn, ", ")+"), '-name' to leave one out")
	fs.BoolVar(&o.leaderElect, "leader-elect", true, "elect a leader through a Lease before running the controllers")
	fs.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "kube-system", "namespace of the Lease cert-manager-controller")
	fs.DurationVar(&o.leaseDuration, "leader-election-lease-duration", 60*time.Second, "lease duration")
	fs.DurationVar(&o.renewDeadline, "leader-election-renew-deadline", 40*time.Second, "renew deadline")
	fs.DurationVar(&o.retryPeriod, "leader-election-retry-period", 15*time.Second, "retry period")
	fs.StringVar(&o.metricsAddress, "metrics-listen-address", "0.0.0.0:9402", "Prometheus metrics (/metrics)")
	fs.StringVar(&o.healthzAddress, "healthz-listen-address", "0.0.0.0:9403", "liveness (/livez)")
	fs.BoolVar(&o.enableOwnerRef, "enable-certificate-owner-ref", false, "make each Certificate the owner of its Secret")
	fs.DurationVar(&o.minBackoff, "certificate-request-minimum-backoff-duration", time.Hour, "first wait after a failed issuance")
	fs.DurationVar(&o.maxBackoff, "certificate-request-maximum-backoff-duration", 32*time.Hour, "longest wait after failed issuances")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	logf.AddFlags(logging, fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return o, nil
}

// enabled resolves --controllers against the built-in set.
func enabled(requested []string) (map[string]bool, error) {
	on := map[string]bool{}
	for _, name := range requested {
		switch {
		case name == "*":
			for _, n := range builtIn {
				on[n] = true
			}
		case strings.HasPrefix(name, "-"):
			delete(on, strings.TrimPrefix(name, "-"))
		case slices.Contains(builtIn, name):
			on[name] = true
		default:
			return nil, fmt.Errorf("unknown controller %q (built in: %s)", name, strings.Join(builtIn, ", "))
		}
	}
	return on, nil
}

func main() {
	logging := logsapi.NewLoggingConfiguration()
	opts, err := parseFlags(os.Args[1:], logging)
	if errors.Is(err, pflag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if opts.version {
		fmt.Printf("cert-manager-controller %s\n", util.AppVersion)
		return
	}
	logf.InitLogs()
	defer logf.FlushLogs()
	if err := logf.ValidateAndApply(logging); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log, "cert-manager-controller")
	if err := run(ctx, opts); err != nil {
		logf.FromContext(ctx).Error(err, "exiting")
		logf.FlushLogs()
		os.Exit(1)
	}
}

func run(rootCtx context.Context, opts *options) error {
	log := logf.FromContext(rootCtx)
	on, err := enabled(opts.controllers)
	if err != nil {
		return err
	}
	rootCtx, cancel := context.WithCancel(rootCtx)
	defer cancel()
	g, rootCtx := errgroup.WithContext(rootCtx)

	factory, err := controller.NewContextFactory(rootCtx, controller.ContextOptions{
		APIServerHost:      opts.apiServerHost,
		Kubeconfig:         opts.kubeconfig,
		KubernetesAPIQPS:   opts.kubeAPIQPS,
		KubernetesAPIBurst: opts.kubeAPIBurst,
		Namespace:          opts.namespace,
		IssuerOptions:      controller.IssuerOptions{ClusterResourceNamespace: opts.clusterResourceNamespace},
		CertificateOptions: controller.CertificateOptions{
			EnableOwnerRef:                           opts.enableOwnerRef,
			CopiedAnnotationPrefixes:                 []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"},
			CertificateRequestMinimumBackoffDuration: opts.minBackoff,
			CertificateRequestMaximumBackoffDuration: opts.maxBackoff,
		},
	})
	if err != nil {
		return err
	}
	base, err := factory.Build()
	if err != nil {
		return err
	}
	// The certificate and issuer metrics (certmanager_certificate_ready_status, _expiration_timestamp_seconds,
	// ...) are collected from the informers' listers at each scrape; the listers must exist before the
	// informers start.
	kinds := base.SharedInformerFactory.Certmanager().V1()
	base.Metrics.SetupCertificateCollector(kinds.Certificates().Lister())
	base.Metrics.SetupIssuerCollector(kinds.Issuers().Lister())
	if opts.namespace == "" {
		base.Metrics.SetupClusterIssuerCollector(kinds.ClusterIssuers().Lister())
	}

	serve := func(what, address string, start func(net.Listener) error) error {
		ln, err := net.Listen("tcp", address)
		if err != nil {
			return fmt.Errorf("listening for %s on %s: %w", what, address, err)
		}
		log.V(logf.InfoLevel).Info("serving "+what, "address", ln.Addr().String())
		g.Go(func() error { return start(ln) })
		return nil
	}
	// base.Metrics is the registry every controller built from the factory records into
	if err := serve("metrics", opts.metricsAddress, func(ln net.Listener) error {
		server := base.Metrics.NewServer(ln)
		go func() {
			<-rootCtx.Done()
			shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
			defer done()
			_ = server.Shutdown(shutdown) //nolint:contextcheck
		}()
		if err := server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}); err != nil {
		return err
	}
	health := healthz.NewServer(20 * time.Second)
	if err := serve("healthz", opts.healthzAddress, func(ln net.Listener) error { return health.Start(rootCtx, ln) }); err != nil {
		return err
	}

	elected := make(chan struct{})
	if opts.leaderElect {
		if err := elect(rootCtx, g, factory, opts, health, elected); err != nil {
			return err
		}
	} else {
		close(elected)
	}
	select {
	case <-rootCtx.Done():
		return g.Wait()
	case <-elected:
	}

	names := make([]string, 0, len(on))
	for name := range on {
		names = append(names, name)
	}
	slices.Sort(names)
	log.Info("starting controllers", "controllers", names)
	for _, name := range names {
		constructor, ok := controller.Known()[name]
		if !ok {
			return fmt.Errorf("controller %q did not register itself", name)
		}
		iface, err := constructor(factory)
		if err != nil {
			return fmt.Errorf("constructing controller %s: %w", name, err)
		}
		g.Go(func() error { return iface.Run(opts.workers, rootCtx) })
	}
	base.SharedInformerFactory.Start(rootCtx.Done())
	base.KubeSharedInformerFactory.Start(rootCtx.Done())
	base.HTTP01ResourceMetadataInformersFactory.Start(rootCtx.Done())
	err = g.Wait()
	base.HTTP01ResourceMetadataInformersFactory.Shutdown()
	base.KubeSharedInformerFactory.Shutdown()
	base.SharedInformerFactory.Shutdown()
	return err
}

// elect runs leader election on the Lease <leader-election-namespace>/cert-manager-controller and closes
// ELECTED once this process leads; losing the lease ends the process.
func elect(ctx context.Context, g *errgroup.Group, factory *controller.ContextFactory, opts *options,
	health *healthz.Server, elected chan struct{}) error {
	leCtx, err := factory.Build("leader-election")
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, opts.leaderElectionNamespace, "cert-manager-controller",
		leCtx.Client.CoreV1(), leCtx.Client.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: fmt.Sprintf("%s-%d", host, os.Getpid()), EventRecorder: leCtx.Recorder})
	if err != nil {
		return err
	}
	lost := make(chan struct{})
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   opts.leaseDuration,
		RenewDeadline:   opts.renewDeadline,
		RetryPeriod:     opts.retryPeriod,
		ReleaseOnCancel: true,
		WatchDog:        health.LeaderHealthzAdaptor,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { close(elected) },
			OnStoppedLeading: func() { close(lost) },
		},
	})
	if err != nil {
		return err
	}
	g.Go(func() error {
		elector.Run(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-lost:
			return errors.New("leader election lost")
		}
	})
	return nil
}
