// Managed plugins. Berth has no plugin system, so it answers as a dockerd with no plugin installed:
// an empty list, `plugin "x" not found` for anything naming one (which is what lets the docker
// CLI's `inspect` fall through to "No such object"), and an explicit refusal for what would
// install one (docs/divergence.md).

import { NotFound, SystemError, Unavailable } from '../../lib/errors';
import { atoi } from '../../lib/go-strconv';
import { Filters, invalidFilter } from '../filters';
import { pathParam, queryOf, queryString } from '../query';
import { sendJson } from '../reply';
import type { ApiHandler, Operations } from './operations';

export const PLUGINS_UNSUPPORTED = 'Managed plugins are not supported by Berth';

/** moby's plugin store error for a name it does not hold. */
export function pluginNotFound(name: string): NotFound {
  return new NotFound(`plugin ${JSON.stringify(name)} not found`);
}

const notFound: ApiHandler = async (request) => {
  throw pluginNotFound(pathParam(request, 'name'));
};

const refused: ApiHandler = async () => {
  throw new Unavailable(PLUGINS_UNSUPPORTED);
};

/** The list's filters, checked as moby's plugin backend checks them, before matching nothing. */
const list: ApiHandler = async (request, reply) => {
  const filters = Filters.fromQuery(queryOf(request));
  filters.validate(['enabled', 'capability']);
  const enabled = filters.get('enabled');
  if (enabled.some((v) => v !== 'true' && v !== 'false')) throw invalidFilter('enabled', enabled);
  return sendJson(reply, []);
};

/** dockerd parses the enable timeout before it looks the plugin up, and answers a bad one with a 500. */
const enable: ApiHandler = async (request) => {
  const timeout = queryString(queryOf(request), 'timeout') ?? '';
  try {
    atoi(timeout);
  } catch (err) {
    throw new SystemError((err as Error).message);
  }
  throw pluginNotFound(pathParam(request, 'name'));
};

export function pluginOperations(): Operations {
  return {
    PluginList: list,
    PluginInspect: notFound,
    PluginDelete: notFound,
    PluginEnable: enable,
    PluginDisable: notFound,
    PluginPush: notFound,
    PluginSet: notFound,
    // Upgrading looks the installed plugin up first, so with none installed it is not found.
    PluginUpgrade: notFound,
    GetPluginPrivileges: refused,
    PluginPull: refused,
    PluginCreate: refused,
  };
}
