"""What every piece of user data goes through before it is stored, archived or streamed: ``InputPolicy``
(size limits, then secret redaction), applied once in the emit core ``faber_host.runlog`` whatever the
door. Standard library only."""
