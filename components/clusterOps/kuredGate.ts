/**
 * Phase 5: the kured sentinel gate refuses a reboot that would cost the control plane its
 * quorum. The kured stack's gate DaemonSet mounts this ConfigMap and runs
 * kured-sentinel-gate.sh; the figures in gate.env come from the topology (quorumOf), so the
 * script holds no count of its own.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, controlPlaneGateFigures, GATE_ENV_MEMBERS, GATE_ENV_QUORUM, KURED_GATE_ENV_FILE, Topology } from "../../topology";
import { childOf } from "../childOptions";
import { bindGate, gateRoles } from "./gateAccess";
import { kubernetesProvider, scriptsConfigMap } from "./kubernetes";

export const KURED_GATE_CONFIGMAP = "kured-control-plane-gate";

export class KuredGate extends pulumi.ComponentResource {
    readonly configMap: k8s.core.v1.ConfigMap;

    constructor(name: string, args: { readonly topology: Topology }, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.kuredGate, name, {}, opts);
        const { topology } = args;
        const kured = topology.clusterOps.kured;
        const figures = controlPlaneGateFigures(topology.masters);
        const child = childOf(this, opts, [], { provider: kubernetesProvider(topology) });

        this.configMap = scriptsConfigMap(
            `${name}-scripts`,
            topology,
            {
                name: KURED_GATE_CONFIGMAP,
                namespace: kured.namespace,
                scripts: ["kured-sentinel-gate.sh", "quorum-gate.sh"],
                env: {
                    file: KURED_GATE_ENV_FILE,
                    values: { [GATE_ENV_MEMBERS]: figures.members, [GATE_ENV_QUORUM]: figures.quorum, CHECK_INTERVAL_SECONDS: kured.checkIntervalSeconds },
                },
            },
            child,
        );
        const roles = gateRoles(name, topology, child);
        bindGate(name, topology, { namespace: kured.namespace, name: kured.serviceAccount }, childOf(this, opts, roles, { provider: child.provider }));
        this.registerOutputs({ members: figures.members, quorum: figures.quorum });
    }
}
