/**
 * Phase 6: end-to-end verification gates, commands that fail the up when the cluster is not
 * what the earlier phases promised. They run when created and whenever their inputs change
 * (re-run them at will: pulumi up --replace '<urn>'). The destructive failover test (rebooting a
 * master) is a runbook, docs/runbook-failover-test.md, not a gate.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
    COMPONENT_TYPES,
    cutoverOrder,
    declaredFlags,
    flagExpectations,
    hasDeclaredFlags,
    kubeletServerUrl,
    LoadBalancerKind,
    Topology,
    vipServerUrl,
} from "../../topology";
import { childOf } from "../childOptions";
import { memberServer, phaseOnePool } from "../loadBalancer/shared";
import type { ShippedCommand } from "../shipped";
import { KUBELET_CONF } from "./cutover";
import { flagsArgs, FLAGS_SCRIPT } from "./flagParity";
import { RemoteStep, shipStep, StepSpec } from "../remoteStep";
import { RemoteScriptArgs, remoteScript, SshTarget } from "./remote";

/** HAProxy's stats socket: the pfSense package's, and Debian's default for a plain HAProxy. */
export const LB_STATS_SOCKET: Record<LoadBalancerKind, string> = { pfsense: "/tmp/haproxy.socket", haproxy: "/run/haproxy/admin.sock" };

/** The etcd gate: verify-etcd.sh with etcd/lib.sh (its member list parser), on the existing master. */
export function verifyEtcdScript(topology: Topology): RemoteScriptArgs {
    return {
        script: "cluster/verify-etcd.sh",
        args: ["--members", topology.masters.map((m) => m.name).join(","), "--pod", `etcd-${topology.existingMaster.name}`],
    };
}

/** The pool gate on the load balancer host: lb-pool-check.php (with the stats reader) on stdin to `php --`. */
export function lbPoolCheckStep(a: {
    kind: LoadBalancerKind;
    socket: string;
    backend: string;
    servers: readonly string[];
    timeoutSeconds: number;
}): StepSpec {
    return {
        script: "cluster/lb-pool-check.php",
        args: ["--socket", a.socket, "--backend", a.backend, "--servers", a.servers.join(","), "--timeout", String(a.timeoutSeconds)],
        // pfSense has no sudo (its admin is root-equivalent); a Linux HAProxy host's socket is root's.
        runAs: a.kind === "pfsense" ? "user" : "root",
    };
}

/** What the pool gate ships for a load balancer user (the script tests run exactly this). */
export function lbPoolCheckCommand(a: Parameters<typeof lbPoolCheckStep>[0] & { user: string }): ShippedCommand {
    return shipStep(a.user, lbPoolCheckStep(a));
}

export interface VerificationArgs {
    readonly topology: Topology;
    readonly sshPrivateKey: pulumi.Output<string>;
}

export class Verification extends pulumi.ComponentResource {
    readonly gates: command.remote.Command[] = [];

    constructor(name: string, args: VerificationArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.verification, name, {}, opts);
        const { topology, sshPrivateKey } = args;
        const user = topology.ssh.user;
        const on = (hostName: string, host: string): SshTarget => ({ name: hostName, host, user, privateKey: sshPrivateKey });
        const existing = on(topology.existingMaster.name, topology.existingMaster.ip);
        const child = childOf(this, opts);
        const vip = vipServerUrl(topology.cluster);

        // etcd: exactly the planned members, all started voters, all healthy.
        this.gates.push(remoteScript(`${name}-etcd-members`, existing, verifyEtcdScript(topology), child));

        // Every master in the apiserver pool and UP, as HAProxy itself reports it.
        const lb = topology.loadBalancer;
        this.gates.push(
            new RemoteStep(
                `${name}-lb-pool`,
                {
                    host: { name: lb.host, address: lb.host },
                    user: lb.user,
                    privateKey: sshPrivateKey,
                    ...lbPoolCheckStep({
                        kind: lb.kind,
                        socket: LB_STATS_SOCKET[lb.kind],
                        backend: phaseOnePool(topology).backend.name,
                        servers: topology.masters.map((m) => memberServer(topology, m).name),
                        timeoutSeconds: lb.waitUpSeconds,
                    }),
                    // A gate: an update re-runs it (the default).
                    formerParent: this,
                },
                child,
            ).command,
        );

        // Flag parity: each master against the declared set (so with each other). Masters that
        // joined after phase 1.5 got the flags from the ClusterConfiguration; if the declared
        // values changed since, they are regenerated here first, one master at a time.
        const declared = declaredFlags(topology.clusterOps.controlPlaneFlags);
        if (hasDeclaredFlags(declared)) {
            const expectations = flagExpectations(declared);
            let previous: pulumi.Resource | undefined;
            const bundle = FLAGS_SCRIPT;
            for (const master of topology.newMasters) {
                const converge = remoteScript(
                    `${name}-${master.name}-flags`,
                    on(master.name, master.ip),
                    { script: bundle, args: flagsArgs("apply", topology, master, declared) },
                    childOf(this, opts, previous ? [previous] : []),
                );
                previous = converge;
            }
            for (const master of topology.masters) {
                this.gates.push(
                    remoteScript(
                        `${name}-${master.name}-parity`,
                        on(master.name, master.ip),
                        { script: bundle, args: ["check", ...expectations] },
                        childOf(this, opts, previous ? [previous] : []),
                    ),
                );
            }
        }

        // Every client path where it belongs: each worker's kubelet on the VIP, each master's on
        // its own apiserver (kubeadm's local mode, which `kubeadm upgrade` restores), kube-proxy's
        // and cluster-info's kubeconfigs on the VIP.
        for (const node of cutoverOrder(topology.workers, topology.masters, topology.cluster.domain)) {
            const check = { script: "cluster/kubeconfig-server.sh" as const, args: ["--file", KUBELET_CONF, "--check", kubeletServerUrl(node, topology.cluster)] };
            const gateName = node.role === "master" ? `${name}-${node.name}-kubelet-local` : `${name}-${node.name}-kubelet-vip`;
            const aliases = node.role === "master" ? [{ name: `${name}-${node.name}-kubelet-vip` }] : [];
            this.gates.push(remoteScript(gateName, on(node.name, node.host), check, { ...child, aliases }));
        }
        for (const configMap of ["kube-system/kube-proxy", "kube-public/cluster-info"]) {
            this.gates.push(
                remoteScript(
                    `${name}-${configMap.split("/")[1]}-vip`,
                    existing,
                    { script: "cluster/kubeconfig-server.sh", args: ["--configmap", configMap, "--check", vip] },
                    child,
                ),
            );
        }
        this.registerOutputs({});
    }
}
