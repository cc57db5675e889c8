/**
 * The shapes the pure layer passes around: the validated stack config (one interface per config
 * area) and the facts one rule hands another. Types only, and no import, so every module of
 * topology/ may depend on this one and this one on none: the config areas (topology/config/)
 * hold each shape's defaults and reader; the rules and models take these shapes as input. A
 * type only one module uses stays with that module.
 */

/**
 * A compile-time check: `AssertNone<Exclude<Union, (typeof LIST)[number]>>` compiles only while
 * LIST names every member of Union, so a value list kept beside its type cannot fall behind it.
 */
export type AssertNone<T extends never> = T;

/** The seed plan's phase ids; topology/phases.ts's table has a row for each, in order. */
export type PhaseId = "0" | "1" | "1.5" | "2" | "3" | "4" | "4.5" | "5" | "6" | "7";

/** The config as Pulumi hands it over: project key (without namespace) to parsed value. */
export type RawConfig = Readonly<Record<string, unknown>>;

/**
 * Reads a file of the project by its path relative to the project directory (a config value
 * such as the audit policy's file names one); throws when it cannot. The pure layer reads no file
 * itself: its caller passes this in (components/projectFiles.ts reads from disk).
 */
export type ProjectFileReader = (relativePath: string) => string;

/** One broken rule in the stack config: the key, the value found, and the rule it breaks. */
export interface ConfigIssue {
    readonly key: string;
    readonly value: unknown;
    readonly rule: string;
}

// ---------------------------------------------------------------------------------------------
// The stack config, one interface per key

/** A range of IPv4 addresses, both ends included. */
export interface IPv4Range {
    readonly first: string;
    readonly last: string;
}

export interface ClusterConfig {
    readonly domain: string;
    readonly subnet: string;
    readonly prefixLength: number;
    readonly gateway: string;
    readonly vip: string;
    readonly apiserverPort: number;
    readonly apiserverDnsName: string;
    /** The fully qualified name of the VIP, `<apiserverDnsName>.<domain>`. */
    readonly apiserverFqdn: string;
    readonly metallbPool: IPv4Range;
    readonly dnsServers: readonly string[];
}

export interface ProxmoxNode {
    readonly name: string;
    /** Where the program reaches the node over SSH (capacity check, snippets). */
    readonly address: string;
    readonly physicalMemoryGiB: number;
    /** Memory allocated to all VMs on the node today, including the existing master. */
    readonly committedMemoryGiB: number;
    readonly hostReserveGiB: number;
}

export interface ProxmoxConfig {
    readonly endpoint: string;
    readonly insecure: boolean;
    readonly templateVmId: number;
    readonly bridge: string;
    readonly vlanId: number;
    readonly datastore: string;
    readonly snippetsDatastore: string;
    readonly sshUser: string;
    readonly nodes: readonly ProxmoxNode[];
}

export interface MasterSpec {
    readonly name: string;
    readonly ip: string;
    readonly vmId: number;
    readonly node: string;
    readonly cores: number;
    readonly memoryGiB: number;
    readonly diskGiB: number;
    /** The master the cluster already has: never a resource of this stack. */
    readonly existing: boolean;
    readonly macAddress?: string;
}

export interface WorkerSpec {
    readonly name: string;
    readonly ip?: string;
}

export interface SshConfig {
    readonly user: string;
    readonly publicKey: string;
}

export type LoadBalancerKind = "pfsense" | "haproxy";

/**
 * Health-check timings. HAProxy checks every `intervalMs`; after the first failure it re-checks
 * every `fastIntervalMs` until `fall` consecutive failures mark the server DOWN; a DOWN server
 * is checked every `downIntervalMs` and comes back after `rise` consecutive successes.
 */
export interface HealthCheckTimings {
    readonly intervalMs: number;
    readonly fastIntervalMs: number;
    readonly downIntervalMs: number;
    readonly fall: number;
    readonly rise: number;
    /** A check that has not answered after this long counts as failed (HAProxy `timeout check`). */
    readonly timeoutMs: number;
}

export interface LoadBalancerConfig {
    readonly kind: LoadBalancerKind;
    readonly host: string;
    readonly user: string;
    /** pfSense: interface id (opt1, ...) carrying the cluster VLAN, or "auto" (the one whose subnet holds the VIP). */
    readonly interface: string;
    /** Health-check timings (topology/config/loadBalancer.ts defaults, each overridable). */
    readonly healthCheck: HealthCheckTimings;
    /** After a pool change, how long the LB waits for the affected servers to be UP (0: no wait). */
    readonly waitUpSeconds: number;
    /** haproxy: the haproxy.cfg the managed block goes into. */
    readonly haproxyConfig: string;
    /** pfsense: the VIP's host alias (Firewall > Aliases > Hosts). */
    readonly hostAlias: string;
}

/** A record the VIP's name replaces (the seed's stale `kubernetes IN A 10.0.20.100`). */
export interface StaleDnsRecord {
    readonly fqdn: string;
    readonly ip: string;
}

export type TsigAlgorithm = "hmac-sha256" | "hmac-sha512" | "hmac-sha384" | "hmac-sha224" | "hmac-sha1" | "hmac-md5";

export interface DnsConfig {
    readonly server: string;
    readonly port: number;
    readonly zone: string;
    readonly tsigKeyName: string;
    readonly tsigAlgorithm: TsigAlgorithm;
    readonly ttl: number;
    /** Removed in phase 1 (only that exact A record), put back if phase 1 is destroyed. */
    readonly staleRecords: readonly StaleDnsRecord[];
}

/**
 * How the program drives kubeadm (phase 0 retrofit, phase 2/3 joins, rollback of a master).
 * Key `kubeadm`; every field has a default, so the key may be absent.
 */
export interface KubeadmConfig {
    /** Where on the existing master the preflight looks for (and takes) etcd snapshots. */
    readonly etcdSnapshotDir: string;
    /** The newest snapshot there must be younger than this. */
    readonly etcdSnapshotMaxAgeHours: number;
    /** Take a snapshot when none is recent enough, instead of refusing. */
    readonly takeEtcdSnapshot: boolean;
    /**
     * How long taking that snapshot may last. Its own bound, not etcdctl's 15 s command timeout:
     * a snapshot streams the whole keyspace, and a few hundred MB take longer than that.
     */
    readonly etcdSnapshotTimeoutMinutes: number;
    /** Name of the Proxmox snapshot of the existing master's VM taken before phase 0 changes it. */
    readonly proxmoxSnapshotName: string;
    /** Destroying phase 0 keeps that snapshot unless this is false. */
    readonly keepProxmoxSnapshot: boolean;
    /** On the existing master: the original certificate and ClusterConfiguration, for the restore. */
    readonly backupDir: string;
    /** TTL of each join's bootstrap token, kubeadm duration syntax ("30m"). */
    readonly joinTokenTtl: string;
    readonly readyzTimeoutSeconds: number;
    readonly cloudInitTimeoutSeconds: number;
    readonly joinTimeoutSeconds: number;
    readonly gateTimeoutSeconds: number;
    readonly drainTimeoutSeconds: number;
    /** New masters must run at least this containerd (MAJOR.MINOR[.PATCH]). */
    readonly minContainerdVersion: string;
    /** Namespaces whose pods phase 0 waits for after the apiserver restart (seed step 0.6). */
    readonly verifyNamespaces: readonly string[];
}

export interface OidcFlags {
    readonly issuerUrl: string;
    readonly clientId: string;
    readonly usernameClaim?: string;
    readonly groupsClaim?: string;
    readonly usernamePrefix?: string;
    readonly groupsPrefix?: string;
}

export interface AuditFlags {
    /** The policy's text, read from `policyFile` (relative to the project) at validation. */
    readonly policy: string;
    readonly policyFile: string;
    /** Where the policy lives on every master; mounted read-only into the apiserver. */
    readonly policyPath: string;
    /** Directory of the audit log on every master; mounted read-write. */
    readonly logDir: string;
    /**
     * extraVolumes names. When kubeadm-config already mounts a policy and a log directory, give
     * their names here: the patch then replaces them in place instead of adding a second mount.
     */
    readonly policyVolumeName: string;
    readonly logVolumeName: string;
    readonly maxAgeDays: number;
    readonly maxBackups: number;
    readonly maxSizeMiB: number;
}

export interface EtcdTuning {
    readonly autoCompactionRetention?: string;
    readonly snapshotCount?: number;
}

/**
 * How an apiserver leaves the pool when its static pod is swapped (kubeadm upgrade, phase 1.5,
 * a certificate change): on SIGTERM it fails /readyz at once but keeps serving for
 * `delaySeconds`, so the load balancer ejects it before its listener closes; then it drains,
 * and with `sendRetryAfter` answers what still reaches it with 429 and Retry-After (clients
 * retry elsewhere) instead of a closed connection. bench/apiserver.bench.ts measures both.
 */
export interface ApiserverShutdownFlags {
    readonly delaySeconds: number;
    readonly sendRetryAfter: boolean;
}

export interface ControlPlaneFlagsConfig {
    readonly oidc?: OidcFlags;
    readonly audit?: AuditFlags;
    readonly etcd?: EtcdTuning;
    readonly apiserverShutdown?: ApiserverShutdownFlags;
    /** Seconds each master may take to come back healthy after its manifests are regenerated. */
    readonly healthTimeoutSeconds: number;
}

export interface ExternalConsumer {
    readonly name: string;
    /** Where it lives: a file path, a repo path with line, a CI file. */
    readonly location: string;
    readonly note?: string;
}

export interface CutoverConfig {
    readonly nodeReadyTimeoutSeconds: number;
    /** Pause after each node is Ready again before the next one starts (the seed's sleep 15). */
    readonly settleSeconds: number;
    readonly externalConsumers: readonly ExternalConsumer[];
}

export type BackupVolume =
    | { readonly kind: "hostPath"; readonly path: string }
    | { readonly kind: "nfs"; readonly server: string; readonly path: string };

export interface EtcdMaintenanceConfig {
    readonly namespace: string;
    /** Holds etcdctl/etcdutl; distroless, so it runs them directly, never a shell. */
    readonly etcdImage: string;
    /** Runs the backup store/retention script (bash, coreutils). */
    readonly shellImage: string;
    /** ahrtr/etcd-defrag, by an etcd maintainer: health check first, members one by one, leader last. */
    readonly defragImage: string;
    readonly timeZone?: string;
    readonly backup: {
        readonly schedule: string;
        readonly retainCount: number;
        readonly volume: BackupVolume;
    };
    readonly defrag: {
        readonly schedule: string;
        readonly rule: string;
        readonly waitBetweenSeconds: number;
    };
}

export interface KuredGateConfig {
    readonly namespace: string;
    /** The ServiceAccount of the sentinel-gate DaemonSet (kured stack), granted what the gate reads. */
    readonly serviceAccount: string;
    readonly checkIntervalSeconds: number;
}

export interface UpgradeChainConfig {
    readonly namespace: string;
    readonly serviceAccount: string;
    readonly drainTimeoutSeconds: number;
    readonly readyTimeoutSeconds: number;
}

export interface KubernetesAccessConfig {
    /** Context of the secret kubeconfig to use; its current context when absent. */
    readonly context?: string;
}

export interface ClusterOpsConfig {
    readonly controlPlaneFlags: ControlPlaneFlagsConfig;
    readonly cutover: CutoverConfig;
    readonly etcdMaintenance: EtcdMaintenanceConfig;
    readonly kured: KuredGateConfig;
    readonly upgrade: UpgradeChainConfig;
    readonly kubernetesAccess: KubernetesAccessConfig;
}

export type IpamKind = "phpipam";

export interface IpamConfig {
    readonly kind: IpamKind;
    /** phpIPAM's base URL without a trailing slash; the API is <url>/api/<appId>/. */
    readonly url: string;
    /** The API app (Administration > API) with security "SSL with App code token"; its code is `ipam.token`. */
    readonly appId: string;
    /** The section whose subnets hold the addresses (the seed's "K8s cluster"). */
    readonly section: string;
    /** Skip TLS verification of phpIPAM's certificate. */
    readonly insecure: boolean;
    /** A CA bundle phpIPAM's certificate chains to (a path where `pulumi up` runs). */
    readonly caFile?: string;
    /** Bound on each API request. */
    readonly timeoutSeconds: number;
}

/** The whole validated config: what `loadTopology` returns, frozen. */
export interface Topology {
    readonly project: string;
    readonly stack: string;
    readonly targetPhase: PhaseId;
    readonly kubernetesVersion: string;
    /** `v1.34` for 1.34.x: the pkgs.k8s.io channel. */
    readonly kubernetesMinor: string;
    readonly cluster: ClusterConfig;
    readonly proxmox: ProxmoxConfig;
    /** In join order; the first is the existing master. */
    readonly masters: readonly MasterSpec[];
    readonly existingMaster: MasterSpec;
    readonly newMasters: readonly MasterSpec[];
    readonly workers: readonly WorkerSpec[];
    readonly ssh: SshConfig;
    readonly loadBalancer: LoadBalancerConfig;
    readonly dns: DnsConfig;
    readonly kubeadm: KubeadmConfig;
    /** Phases 1.5 and 4 to 7: flags, cut-over, etcd maintenance, kured gate, upgrade chain. */
    readonly clusterOps: ClusterOpsConfig;
    /** Phase 1.1: where the VIP and the new masters' addresses are registered (optional). */
    readonly ipam?: IpamConfig;
}

// ---------------------------------------------------------------------------------------------
// Facts one rule hands another

/** What the capacity rule needs to know about one Proxmox node. */
export interface NodeCapacityFacts {
    readonly node: string;
    readonly physicalGiB: number;
    readonly committedGiB: number;
    readonly hostReserveGiB: number;
}

/** A node taint as kubeadm and the kubelet take it. */
export interface Taint {
    readonly key: string;
    readonly effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

/** A new master of the plan: the phase that brings it and its place in etcd. */
export interface NewMasterPlacement {
    readonly master: MasterSpec;
    readonly phase: PhaseId;
    /** 1-based position in etcd once it has joined (the existing master is member 1). */
    readonly member: number;
    /** The planned final control-plane size. */
    readonly of: number;
}
