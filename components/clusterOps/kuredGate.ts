/**
 * Phase 5: the kured sentinel gate refuses a reboot that would cost the control plane its
 * quorum. The kured stack's gate DaemonSet mounts this ConfigMap and runs
 * kured-sentinel-gate.sh; the figures in gate.env come from the topology (quorumOf), so the
 * script holds no count of its own.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { controlPlaneGateFigures, Topology } from "../../topology";
import { childOf } from "../childOptions";
import { stepOptions } from "../kubeadm/options";
import { bindGate, gateRoles } from "./gateAccess";
import { kubernetesProvider, scriptsConfigMap } from "./kubernetes";

export const KURED_GATE_CONFIGMAP = "kured-control-plane-gate";

export class KuredGate extends pulumi.ComponentResource {
    readonly configMap: k8s.core.v1.ConfigMap;

    constructor(name: string, args: { readonly topology: Topology }, opts?: pulumi.ComponentResourceOptions) {
        super("ha-control-plane:clusterOps:KuredGate", name, {}, opts);
        const { topology } = args;
        const kured = topology.clusterOps.kured;
        const figures = controlPlaneGateFigures(topology.masters);
        const child = childOf(this, opts, { provider: kubernetesProvider(topology) });

        this.configMap = scriptsConfigMap(
            `${name}-scripts`,
            topology,
            {
                name: KURED_GATE_CONFIGMAP,
                namespace: kured.namespace,
                scripts: ["kured-sentinel-gate.sh", "quorum-gate.sh"],
                env: {
                    file: "gate.env",
                    values: { CONTROL_PLANE_MEMBERS: figures.members, CONTROL_PLANE_QUORUM: figures.quorum, CHECK_INTERVAL_SECONDS: kured.checkIntervalSeconds },
                },
            },
            child,
        );
        const roles = gateRoles(name, topology, child);
        bindGate(name, topology, { namespace: kured.namespace, name: kured.serviceAccount }, stepOptions(this, opts, roles, { provider: child.provider }));
        this.registerOutputs({ members: figures.members, quorum: figures.quorum });
    }
}
