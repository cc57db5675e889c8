/**
 * Key `loadBalancer`: which load balancer carries the VIP, how the program reaches it, and the
 * health-check timings with the rule between them. The model of the pool itself is
 * topology/loadBalancer.ts.
 */
import type { AssertNone, HealthCheckTimings, LoadBalancerConfig, LoadBalancerKind } from "../types";
import { Reader } from "./reader";

export const LOAD_BALANCER_KINDS = ["pfsense", "haproxy"] as const satisfies readonly LoadBalancerKind[];
export type EveryLoadBalancerKindListed = AssertNone<Exclude<LoadBalancerKind, (typeof LOAD_BALANCER_KINDS)[number]>>;

/**
 * This project's timings, chosen with bench/lb.bench.ts --sweep (README: measured failover): an
 * unready apiserver is out of the pool about 0.8 s after /readyz turns (at most 1.5 s), against
 * about 4.8 s (at most 6 s) with the kubeadm docs' defaults. fall 2 would gain ~0.2 s but eject
 * on two failed checks 250 ms apart; fall 3 asks for >= 500 ms of failure in a row, so one slow
 * /readyz during an etcd hiccup does not eject a master; rise 2 keeps a flapping one out. One LB
 * checking each apiserver once a second (4/s while one is failing) is negligible load.
 */
export const DEFAULT_HEALTH_CHECK_TIMINGS: HealthCheckTimings = Object.freeze({
    intervalMs: 1000,
    fastIntervalMs: 250,
    downIntervalMs: 1000,
    fall: 3,
    rise: 2,
    timeoutMs: 1000,
});

/** pfSense's rule for alias names (is_validaliasname): up to 31 of a-z, A-Z, 0-9, _; not only digits or only underscores. */
export const PFSENSE_ALIAS_NAME = /^(?!\d+$)(?!_+$)[A-Za-z0-9_]{1,31}$/;
export const DEFAULT_PFSENSE_HOST_ALIAS = "k8s_apiserver_vip";

export const LOAD_BALANCER_DEFAULTS = Object.freeze({
    kind: "pfsense" as LoadBalancerKind,
    user: "admin",
    interface: "auto",
    healthCheck: DEFAULT_HEALTH_CHECK_TIMINGS,
    waitUpSeconds: 60,
    haproxyConfig: "/etc/haproxy/haproxy.cfg",
    hostAlias: DEFAULT_PFSENSE_HOST_ALIAS,
});

/** A broken timing rule, or undefined; the config layer reports it against its key. */
export function checkHealthCheckTimings(t: HealthCheckTimings): { field: keyof HealthCheckTimings; rule: string } | undefined {
    if (t.fastIntervalMs > t.intervalMs) return { field: "fastIntervalMs", rule: `must not exceed intervalMs (${t.intervalMs})` };
    if (t.timeoutMs > t.intervalMs * 10) return { field: "timeoutMs", rule: `must not exceed 10 x intervalMs (${t.intervalMs * 10})` };
    return undefined;
}

export function readLoadBalancer(r: Reader, value: unknown): LoadBalancerConfig {
    const l = r.object(value, "loadBalancer");
    const kind = r.string(l, "kind", "loadBalancer.kind", LOAD_BALANCER_DEFAULTS.kind);
    if (kind && !(LOAD_BALANCER_KINDS as readonly string[]).includes(kind)) {
        r.fail("loadBalancer.kind", l.kind, `must be one of ${LOAD_BALANCER_KINDS.join(", ")}`);
    }
    const iface = r.string(l, "interface", "loadBalancer.interface", LOAD_BALANCER_DEFAULTS.interface);
    if (iface && !/^(auto|wan|lan|opt\d{1,3})$/.test(iface)) {
        r.fail("loadBalancer.interface", l.interface, "must be a pfSense interface id (wan, lan, opt1, ...; see Interfaces > Assignments) or auto");
    }
    const h = l.healthCheck === undefined ? {} : r.object(l.healthCheck, "loadBalancer.healthCheck");
    const d = LOAD_BALANCER_DEFAULTS.healthCheck;
    const ms = (field: keyof HealthCheckTimings, min: number, max: number): number =>
        r.integer(h, field, `loadBalancer.healthCheck.${field}`, min, max, d[field]);
    const healthCheck: HealthCheckTimings = {
        intervalMs: ms("intervalMs", 100, 60_000),
        fastIntervalMs: ms("fastIntervalMs", 100, 60_000),
        downIntervalMs: ms("downIntervalMs", 100, 60_000),
        fall: ms("fall", 1, 10),
        rise: ms("rise", 1, 10),
        timeoutMs: ms("timeoutMs", 100, 60_000),
    };
    const broken = Object.values(healthCheck).some(Number.isNaN) ? undefined : checkHealthCheckTimings(healthCheck);
    if (broken) r.fail(`loadBalancer.healthCheck.${broken.field}`, healthCheck[broken.field], broken.rule);
    const haproxyConfig = r.string(l, "haproxyConfig", "loadBalancer.haproxyConfig", LOAD_BALANCER_DEFAULTS.haproxyConfig);
    if (haproxyConfig && !/^\/[A-Za-z0-9._\/-]+$/.test(haproxyConfig)) {
        r.fail("loadBalancer.haproxyConfig", l.haproxyConfig, "must be an absolute path of letters, digits, . _ - and /");
    }
    const hostAlias = r.string(l, "hostAlias", "loadBalancer.hostAlias", LOAD_BALANCER_DEFAULTS.hostAlias);
    if (hostAlias && !PFSENSE_ALIAS_NAME.test(hostAlias)) {
        r.fail("loadBalancer.hostAlias", l.hostAlias, "must be a pfSense alias name: up to 31 letters, digits or _ (no hyphens), not only digits or underscores");
    }
    return {
        kind: kind as LoadBalancerKind,
        host: r.string(l, "host", "loadBalancer.host"),
        user: r.string(l, "user", "loadBalancer.user", LOAD_BALANCER_DEFAULTS.user),
        interface: iface,
        healthCheck,
        waitUpSeconds: r.integer(l, "waitUpSeconds", "loadBalancer.waitUpSeconds", 0, 600, LOAD_BALANCER_DEFAULTS.waitUpSeconds),
        haproxyConfig,
        hostAlias,
    };
}
