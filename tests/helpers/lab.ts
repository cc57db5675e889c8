import { loadTopology, Topology } from "@ha-control-plane/topology";
import { labConfig } from "./program";
import { readProjectFile } from "../../components/projectFiles";

/** The lab stack's validated topology, with an optional edit of the raw config. */
export function labTopology(edit?: (raw: Record<string, any>) => void): Topology {
    const raw = JSON.parse(JSON.stringify(labConfig().raw)) as Record<string, any>;
    edit?.(raw);
    return loadTopology(raw, { project: "ha-control-plane", stack: "lab", readProjectFile });
}
