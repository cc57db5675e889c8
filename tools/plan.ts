/**
 * npm run plan -- [--stack NAME] [--config-file FILE] [--target-phase ID] [--policy-config FILE]
 *                 [--format text|json|markdown]
 * The policy config is FILE, else policies/<stack>.json when it exists (what
 * `pulumi preview --policy-pack-config` would be given), over what the topology implies.
 * Exit 0: no mandatory violation; 1: a mandatory violation (blocked); 2: invalid config or usage.
 */
import { ConfigError } from "@ha-control-plane/topology";
import { computePlan } from "./planModel";
import { PolicyConfigError } from "./policyRunner";
import { renderJson, renderMarkdown, renderText } from "./render";

const USAGE = "usage: npm run plan -- [--stack NAME] [--config-file FILE] [--target-phase ID] [--policy-config FILE] [--format text|json|markdown]";

interface CliOptions {
    stack?: string;
    configFile?: string;
    targetPhase?: string;
    policyConfig?: string;
    format: "text" | "json" | "markdown";
}

function parseArgs(argv: readonly string[]): CliOptions {
    const options: CliOptions = { format: "text" };
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        const value = argv[i + 1];
        const need = (): string => {
            if (value === undefined || value.startsWith("--")) throw new UsageError(`${flag} needs a value`);
            i++;
            return value;
        };
        switch (flag) {
            case "--stack": options.stack = need(); break;
            case "--config-file": options.configFile = need(); break;
            case "--target-phase": options.targetPhase = need(); break;
            case "--policy-config": options.policyConfig = need(); break;
            case "--format": {
                const format = need();
                if (format !== "text" && format !== "json" && format !== "markdown") throw new UsageError(`--format must be text, json or markdown, not ${format}`);
                options.format = format;
                break;
            }
            case "--help": case "-h": process.stdout.write(`${USAGE}\n`); process.exit(0); break;
            default: throw new UsageError(`unknown argument ${flag}`);
        }
    }
    return options;
}

class UsageError extends Error {}

async function main(): Promise<number> {
    let options: CliOptions;
    try {
        options = parseArgs(process.argv.slice(2));
    } catch (err) {
        process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
        return 2;
    }
    try {
        const plan = await computePlan({
            ...(options.stack ? { stack: options.stack } : {}),
            ...(options.configFile ? { configFile: options.configFile } : {}),
            ...(options.targetPhase !== undefined ? { targetPhase: options.targetPhase } : {}),
            ...(options.policyConfig ? { policyConfigFile: options.policyConfig } : {}),
        });
        const render = { text: renderText, json: renderJson, markdown: renderMarkdown }[options.format];
        process.stdout.write(render(plan));
        return plan.blocked ? 1 : 0;
    } catch (err) {
        if (err instanceof ConfigError || err instanceof PolicyConfigError) {
            process.stderr.write(`${err.message}\n`);
            return 2;
        }
        if (err instanceof Error && /stack config file not found/.test(err.message)) {
            process.stderr.write(`${err.message}\n`);
            return 2;
        }
        throw err;
    }
}

main().then(
    // Exit once stdout is flushed: a piped plan (the JSON is about 1 MB) is cut short otherwise.
    (code) => process.stdout.write("", () => process.exit(code)),
    (err: unknown) => {
        process.stderr.write(`plan failed: ${err instanceof Error ? err.stack : String(err)}\n`);
        process.exit(3);
    },
);
