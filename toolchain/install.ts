/**
 * `npm run toolchain`, after build.sh: installs the built plugins where the CLI finds them (the
 * project-local PULUMI_HOME) and prints what the engine has here and what it lacks.
 */
import { execFileSync } from "child_process";
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import { builtPlugins, cacheDir, engineEnv, kubernetesBinaries, languageHost, pins, pulumiCli, pulumiHome, refusedPlugins } from ".";

function main(): void {
    const cli = pulumiCli();
    if (!cli) throw new Error(`no Pulumi CLI v${pins.pulumi.cli} on PATH or in ${cacheDir()}: toolchain/build.sh did not build it`);
    const env = engineEnv();
    const lines = [`pulumi CLI      ${cli} (v${pins.pulumi.cli})`];
    const host = languageHost(cli);
    lines.push(`language host   ${host ?? `none: the program runs in-process (--client); ${pins.pulumi.languageHost.module} is refused by the module proxy`}`);
    for (const [name, plugin] of Object.entries(builtPlugins())) {
        const installed = path.join(pulumiHome(), "plugins", `resource-${name}-v${plugin.version}`);
        if (!existsSync(installed)) {
            execFileSync(cli, ["plugin", "install", "resource", name, plugin.version, "--file", plugin.binary], { env, stdio: ["ignore", "ignore", "inherit"] });
        }
        lines.push(`plugin          ${name} v${plugin.version} installed in ${installed}`);
    }
    for (const [name, refused] of Object.entries(refusedPlugins())) lines.push(`plugin          ${name} v${pins.plugins[name].version}: NOT AVAILABLE, ${refused}`);
    const k8s = kubernetesBinaries();
    lines.push(k8s ? `kubernetes      ${path.dirname(k8s.kubeadm)} (v${pins.kubernetes}), etcd ${path.dirname(k8s.etcd)} (v${pins.etcd})` : "kubernetes      not built");
    for (const piece of [`pulumi-${pins.pulumi.cli}`, `etcd-${pins.etcd}`, `kubernetes-${pins.kubernetes}`, ...Object.keys(builtPlugins()).map((n) => `plugin-${n}-${pins.plugins[n].version}`)]) {
        const seconds = path.join(cacheDir(), piece, ".build-seconds");
        if (existsSync(seconds)) lines.push(`cold build      ${piece}: ${readFileSync(seconds, "utf8").trim()} s`);
    }
    process.stdout.write(lines.map((l) => `toolchain: ${l}`).join("\n") + "\n");
}

main();
