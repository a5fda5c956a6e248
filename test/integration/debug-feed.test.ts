import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DebugEvent } from '../../src/core/debug-feed.js';
import { collect, is } from '../helpers/debug-watch.js';
import { APP, connected, nextEvent, sdkAuthorizer, startHerald } from '../helpers/herald.js';
import { until } from '../helpers/wait.js';
import { RawWampClient } from '../helpers/wamp-client.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/** The debug console's feed of one node, fed by real clients: pusher-js, the pusher SDK, a WAMP client. */

describe('the debug feed of a Pusher app', () => {
  test('a client connecting, subscribing, sending a client event and an SDK trigger show up in order', async () => {
    const receiver = await WebhookReceiver.start();
    const server = await startHerald({
      apps: [{ ...APP, clientEvents: true, webhooks: [{ url: receiver.url }] }],
      webhooks: { vacateDelayMs: 0 },
    });
    try {
      const feed = server.herald.debugFeed;
      const ns = `pusher:${APP.id}`;
      assert.equal(feed.watched(ns), false, 'nobody watches yet');
      const seen = collect(feed, ns);
      const client = server.client(sdkAuthorizer(server.sdk()));
      const socketId = await connected(client);
      const channel = client.subscribe('private-room');
      await nextEvent(channel, 'pusher:subscription_succeeded');
      channel.trigger('client-hello', { n: 1 });
      await seen.find(is('client_event'), 'the client event');
      await server.sdk().trigger('private-room', 'server-news', { big: 'x'.repeat(5000) });
      await seen.find(is('api_message'), 'the API message');
      await seen.find(is('webhook_sent'), 'the occupied webhook delivered');
      client.disconnect();
      await seen.find(is('vacated'), 'the channel vacated');

      const events = seen.items as DebugEvent[];
      const node = feed.node;
      assert.ok(events.every((e) => e.node === node && typeof e.time === 'number'));
      const types = events.map((e) => e.type);
      const at = (type: string) => types.indexOf(type as DebugEvent['type']);
      assert.equal(types[0], 'connection_opened');
      assert.deepEqual(
        [at('subscribed'), at('client_event'), at('api_message'), at('connection_closed')].every(
          (v, i, all) => v >= 0 && (i === 0 || v > all[i - 1]!),
        ),
        true,
        `order of ${types.join(', ')}`,
      );
      assert.ok(at('occupied') >= 0 && at('occupied') < at('client_event'));
      assert.ok(at('unsubscribed') > at('connection_closed') && at('vacated') > at('connection_closed'));
      const find = (type: string) => events.find((e) => e.type === type)!;
      assert.equal(find('connection_opened').socketId, socketId);
      assert.deepEqual(
        { channel: find('subscribed').channel, socketId: find('subscribed').socketId },
        { channel: 'private-room', socketId },
      );
      const clientEvent = find('client_event');
      assert.deepEqual(
        [clientEvent.channel, clientEvent.event, clientEvent.socketId, clientEvent.data],
        ['private-room', 'client-hello', socketId, '{"n":1}'],
      );
      const api = find('api_message');
      assert.equal(api.channel, 'private-room');
      assert.equal(api.event, 'server-news');
      assert.equal(api.truncated, true, 'a large payload is cut');
      assert.equal(api.data?.length, 1024);
      assert.equal(find('webhook_sent').status, 200);
      assert.equal(find('webhook_sent').url, receiver.url);
      assert.equal(typeof find('connection_closed').code, 'number');

      seen.watcher.close();
      assert.equal(feed.watched(ns), false);
    } finally {
      await server.stop();
      await receiver.close();
    }
  });

  test('a failed webhook is shown with its status', async () => {
    const receiver = await WebhookReceiver.start(() => 500);
    const server = await startHerald({
      apps: [{ ...APP, webhooks: [{ url: receiver.url }] }],
      webhooks: { vacateDelayMs: 0, retryForMs: 0 },
    });
    try {
      const seen = collect(server.herald.debugFeed, `pusher:${APP.id}`);
      const client = server.client();
      await connected(client);
      await nextEvent(client.subscribe('room'), 'pusher:subscription_succeeded');
      const failed = (await seen.find(is('webhook_failed'), 'the failed webhook')) as DebugEvent;
      assert.equal(failed.status, 500);
      assert.equal(failed.error, 'HTTP 500');
      assert.match(failed.data ?? '', /channel_occupied/);
    } finally {
      await server.stop();
      await receiver.close();
    }
  });
});

describe('the debug feed of a WAMP realm', () => {
  test('sessions joining and leaving, a publication and a call show up for their realm only', async () => {
    const server = await startHerald({ wamp: { realms: [{ name: 'realm1' }, { name: 'realm2' }] } });
    const clients: RawWampClient[] = [];
    try {
      const feed = server.herald.debugFeed;
      const seen = collect(feed, 'wamp:realm1');
      const other = collect(feed, 'wamp:realm2');
      const url = `ws://127.0.0.1:${server.port}/ws`;
      const callee = await RawWampClient.join(url);
      const caller = await RawWampClient.join(url);
      clients.push(callee, caller);
      await callee.register('com.example.add');
      const request = caller.id();
      caller.send([16, request, { acknowledge: true }, 'com.example.topic', ['hello', 2]]);
      await caller.reply(request, [17, 8]);
      const result = caller.call('com.example.add', [1, 2]);
      const invocation = await callee.next(68);
      callee.send([70, invocation[1], {}, [3]]);
      assert.deepEqual((await result)[3], [3]);
      caller.close();
      await seen.find(is('session_left', { session: caller.sessionId }), 'the caller leaving');

      const events = seen.items as DebugEvent[];
      const joined = events.filter((e) => e.type === 'session_joined');
      assert.deepEqual(
        joined.map((e) => e.session),
        [callee.sessionId, caller.sessionId],
      );
      const authid = joined[1]!.userId;
      assert.ok(authid, 'the session joined with its authid');
      const publication = events.find((e) => e.type === 'publication')!;
      assert.equal(publication.topic, 'com.example.topic');
      assert.equal(publication.session, caller.sessionId);
      assert.equal(publication.userId, authid);
      assert.match(publication.data ?? '', /"hello",2/);
      const call = events.find((e) => e.type === 'call')!;
      assert.equal(call.procedure, 'com.example.add');
      assert.deepEqual([call.session, call.userId], [caller.sessionId, authid]);
      assert.match(call.data ?? '', /\[1,2\]/);
      assert.equal(other.items.length, 0, 'another realm sees nothing');
    } finally {
      for (const c of clients) c.close();
      await server.stop();
    }
  });
});

describe('the debug feed with nobody watching', () => {
  test('a session does its work and nothing is kept', async () => {
    const server = await startHerald();
    try {
      const feed = server.herald.debugFeed;
      const client = server.client();
      await connected(client);
      await nextEvent(client.subscribe('room'), 'pusher:subscription_succeeded');
      const seen = collect(feed, `pusher:${APP.id}`);
      client.disconnect();
      await seen.find(is('connection_closed'), 'the close');
      assert.equal(
        seen.items.some((e) => e.type === 'connection_opened' || e.type === 'subscribed'),
        false,
        'what happened before the watcher came is not kept',
      );
      await until(() => server.herald.connectionCount === 0, 'the connection gone');
    } finally {
      await server.stop();
    }
  });
});
