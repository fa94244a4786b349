import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gatewayUri, mapResultUris, splitGatewayUri } from '../../../src/mcp/downstream/resource-uris.js';

describe('/mcp resource URI mapping', () => {
  test('a server URI round-trips verbatim, whatever its scheme, query or fragment', () => {
    for (const uri of ['file:///srv/a%20b.md', 'demo://resource/x?y=1#z', 'urn:isbn:123', 'smartflow://nested/x://y']) {
      const mapped = gatewayUri('docs', uri);
      assert.ok(mapped.startsWith('smartflow://docs/'), mapped);
      assert.deepEqual(splitGatewayUri(mapped), { alias: 'docs', uri });
    }
  });

  test('a template maps the same way, so expanding it yields a URI that routes back', () => {
    const template = gatewayUri('everything', 'demo://resource/dynamic/text/{resourceId}');
    const expanded = template.replace('{resourceId}', '42');
    assert.deepEqual(splitGatewayUri(expanded), { alias: 'everything', uri: 'demo://resource/dynamic/text/42' });
  });

  test('anything else is not a gateway URI', () => {
    for (const uri of ['demo://resource/x', 'smartflow://', 'smartflow://docs', 'smartflow://docs/', 'smartflow:///x']) assert.equal(splitGatewayUri(uri), null, uri);
  });

  test('results: contents, resource links and embedded resources are mapped; other blocks and fields stay as they were', () => {
    const result = {
      contents: [{ uri: 'a://1', text: 't', _meta: { k: 1 } }],
      content: [{ type: 'text', text: 'x' }, { type: 'resource_link', uri: 'a://2', name: 'n' }, { type: 'resource', resource: { uri: 'a://3', text: 'y' } }, { type: 'future', uri: 'a://4' }],
      messages: [{ role: 'user', content: { type: 'resource_link', uri: 'a://5', name: 'm' } }],
      structuredContent: { uri: 'a://6' },
    };
    assert.deepEqual(mapResultUris('s', result), {
      contents: [{ uri: 'smartflow://s/a://1', text: 't', _meta: { k: 1 } }],
      content: [{ type: 'text', text: 'x' }, { type: 'resource_link', uri: 'smartflow://s/a://2', name: 'n' }, { type: 'resource', resource: { uri: 'smartflow://s/a://3', text: 'y' } }, { type: 'future', uri: 'a://4' }],
      messages: [{ role: 'user', content: { type: 'resource_link', uri: 'smartflow://s/a://5', name: 'm' } }],
      structuredContent: { uri: 'a://6' },
    });
  });
});
