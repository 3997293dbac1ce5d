#!/bin/env python3
import ESocketS
class Socket(ESocketS.Socket):
    def on_client_connect(self, fileno):
        print(self.clients[fileno].getip(), 'Connected')

    def on_start(self):
        print('Server started on: ', self.host, self.port)

    def on_message_recv(self, fileno, msg):
        print(self.clients[fileno].getip(), ': ', msg)

    def on_client_disconnect(self, fileno):
        print(self.clients[fileno].getip(), 'Disconnected')

    def on_server_shutting_down(self):
        print('Server shutdown sequence started')

    def on_server_shut_down(self):
        print('Server closed')

    def on_warning(self, msg):
        print('Warning: ', msg)
        
s = Socket(port=1234)
s.start()
