"""The relay consumer: join the analysis's group on connect, pass every group message on."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class RelayConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.group_name = f"analysis.{self.scope['url_route']['kwargs']['analysis_id']}"
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def analysis_event(self, message: dict) -> None:
        await self.send_json(message["event"])
