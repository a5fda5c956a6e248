#!/usr/bin/env python3
"""Sends a notification to the page from Python, with the standard library only.

    python3 examples/notifications/send.py "hello from Python"

trigger() signs the request exactly as the `pusher` package (pusher-http-python) does, so it is what
a Django or Masonite management command would call, with or without that package installed. Where
Herald is and which app: HERALD_HOST, HERALD_PORT, HERALD_APP_ID, HERALD_APP_KEY, HERALD_APP_SECRET
(defaults: those of `npm start`).
"""
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request

HOST = os.environ.get('HERALD_HOST', '127.0.0.1')
PORT = int(os.environ.get('HERALD_PORT', '6001'))
APP_ID = os.environ.get('HERALD_APP_ID', 'app-id')
KEY = os.environ.get('HERALD_APP_KEY', 'app-key')
SECRET = os.environ.get('HERALD_APP_SECRET', 'app-secret')


def query_string(params):
    """The parameters sorted by name, unescaped, as pusher-http-python joins them."""
    return '&'.join('%s=%s' % (name, params[name]) for name in sorted(params))


def trigger(channel, event, data):
    """POST /apps/{id}/events: `data` (any JSON value) as `event` on `channel`; Herald's answer."""
    path = '/apps/%s/events' % APP_ID
    body = json.dumps({
        'name': event,
        'channels': [channel],
        'data': json.dumps(data, ensure_ascii=False),
    }).encode('utf8')
    params = {
        'auth_key': KEY,
        'auth_timestamp': '%.0f' % time.time(),
        'auth_version': '1.0',
        'body_md5': hashlib.md5(body).hexdigest(),
    }
    string_to_sign = '\n'.join(['POST', path, query_string(params)])
    params['auth_signature'] = hmac.new(
        SECRET.encode('utf8'), string_to_sign.encode('utf8'), hashlib.sha256
    ).hexdigest()

    request = urllib.request.Request(
        'http://%s:%d%s?%s' % (HOST, PORT, path, query_string(params)),
        data=body,
        headers={'Content-Type': 'application/json'},
        method='POST',
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


if __name__ == '__main__':
    message = ' '.join(sys.argv[1:]) or 'hello world'
    try:
        print(json.dumps(trigger('my-channel', 'my-event', {'message': message})))
    except urllib.error.HTTPError as error:
        sys.exit('Herald answered %d: %s' % (error.code, error.read().decode('utf8', 'replace')))
    except urllib.error.URLError as error:
        sys.exit('cannot reach Herald at %s:%d: %s' % (HOST, PORT, error.reason))
