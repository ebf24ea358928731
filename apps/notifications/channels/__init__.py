"""External delivery channels: each module has ``send(delivery) -> SendResult`` and raises ``DeliveryError``."""
