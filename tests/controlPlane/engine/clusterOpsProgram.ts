/**
 * The Kubernetes side of phases 4.5, 5 and 7 as the stack registers it (the same components,
 * names and phase order), for the control-plane tests to run through the real engine and the
 * real kubernetes provider; the config is the stack's, read the way the program reads it.
 * The rest of the stack needs the command, random and proxmoxve providers, which cannot be
 * built here.
 */
import * as pulumi from "@pulumi/pulumi";
import { EtcdMaintenance } from "../../../components/clusterOps/etcdMaintenance";
import { KuredGate } from "../../../components/clusterOps/kuredGate";
import { UpgradeChain } from "../../../components/clusterOps/upgradeChain";
import { etcdMaintenanceArgs } from "../../../components/phases/p4-5-etcd-maintenance";
import { kuredGateArgs } from "../../../components/phases/p5-kured-gate";
import { upgradeChainArgs } from "../../../components/phases/p7-upgrade-chain";
import { kubernetesProvider } from "../../../components/stack";
import { rawProjectConfig } from "../../../components/stackConfig";
import { loadTopology } from "@ha-control-plane/topology";
import { readProjectFile } from "../../../components/projectFiles";

const project = pulumi.getProject();
const topology = loadTopology(rawProjectConfig(project), { project, stack: pulumi.getStack(), readProjectFile });
const kubeconfig = new pulumi.Config(project).requireSecretObject<{ kubeconfig: string }>("kubernetesAccess").apply((a) => a.kubeconfig);
const provider = kubernetesProvider(topology, kubeconfig);
// Each phase waits for the one before it, as the Phase components chain them in the stack.
const etcdMaintenance = new EtcdMaintenance("etcd-maintenance", etcdMaintenanceArgs(topology), { provider });
const kuredGate = new KuredGate("kured-gate", kuredGateArgs(topology), { provider, dependsOn: [etcdMaintenance] });
new UpgradeChain("upgrade-chain", upgradeChainArgs(topology), { provider, dependsOn: [kuredGate] });
